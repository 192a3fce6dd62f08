# ---
# data:
#   - file: datasets/t10k-images-idx3-ubyte.gz
#     origin: https://storage.googleapis.com/cvdf-datasets/mnist/t10k-images-idx3-ubyte.gz
#     sha256: 8d422c7b0a1c1c79245a5bcf07fe86e33eeafee792b84584aec276f5a2dbc4e6
#   - file: datasets/t10k-labels-idx1-ubyte.gz
#     origin: https://storage.googleapis.com/cvdf-datasets/mnist/t10k-labels-idx1-ubyte.gz
#     sha256: f7ae60f92e00ec6debd23a6088c31dbd2371eca3ffa0defaefb259924204aec6
# ---

# %% load-data
import gzip

import keras
import matplotlib.pyplot as plt
import numpy as np
from keras import layers

keras.utils.set_random_seed(7)

MNIST_URL = "https://storage.googleapis.com/cvdf-datasets/mnist/"


def load_idx(name, md5, header_bytes):
    """Download one MNIST IDX file (or find it in the Keras cache); return its bytes."""
    path = keras.utils.get_file(name, origin=MNIST_URL + name, file_hash=md5)
    with gzip.open(path, "rb") as f:
        return np.frombuffer(f.read(), dtype=np.uint8, offset=header_bytes)


images = load_idx("t10k-images-idx3-ubyte.gz", "9fb629c4189551a2d022fa330f9573f3", 16)
labels = load_idx("t10k-labels-idx1-ubyte.gz", "ec29112dd5afa0611ce80d1b7f02629c", 8)
# Scale pixels to [0, 1] and add the channel axis Conv2D expects: (28, 28, 1).
images = images.reshape(-1, 28, 28, 1).astype("float32") / 255.0
# MNIST's documentation: the first 5,000 images of this file are cleaner and easier than
# the last 5,000. A fixed shuffle (the same split on every run) puts both halves in
# both sets.
order = np.random.default_rng(0).permutation(len(labels))
images, labels = images[order], labels[order]
X_train, y_train = images[:8000], labels[:8000]
X_test, y_test = images[8000:], labels[8000:]
n_train, n_test = len(X_train), len(X_test)
print("train:", X_train.shape, "test:", X_test.shape)

# %% cnn
model = keras.Sequential(
    [
        keras.Input(shape=(28, 28, 1)),
        layers.Conv2D(32, (3, 3), activation="relu"),
        layers.MaxPooling2D((2, 2)),
        layers.Flatten(),
        layers.Dense(64, activation="relu"),
        layers.Dropout(0.2),
        layers.Dense(10, activation="softmax"),
    ],
    name="digit_cnn",
)
# The labels are integers 0-9: what the *sparse* categorical cross-entropy expects.
model.compile(
    optimizer="adam", loss="sparse_categorical_crossentropy", metrics=["accuracy"]
)
# Train for at most EPOCHS epochs; stop once the validation loss has not improved for
# PATIENCE epochs, and keep the weights of the best epoch.
EPOCHS, PATIENCE = 20, 3
stopping = keras.callbacks.EarlyStopping(patience=PATIENCE, restore_best_weights=True)
history = model.fit(
    X_train,
    y_train,
    epochs=EPOCHS,
    batch_size=32,
    validation_split=0.1,
    callbacks=[stopping],
)
epochs_run, best_epoch = len(history.epoch), stopping.best_epoch + 1
cnn_test_loss, cnn_test_accuracy = model.evaluate(X_test, y_test, verbose=0)
print(f"Test accuracy: {cnn_test_accuracy:.4f}  (loss {cnn_test_loss:.4f})")

# %% predict
# "New data": the last 12 test images, which the model never saw during training.
new_data = X_test[-12:]
predictions = model.predict(new_data, verbose=0)
predicted_digits = predictions.argmax(axis=1)
print("predicted:", predicted_digits)
print("true:     ", y_test[-12:])

fig, axes = plt.subplots(1, 12, figsize=(12, 1.6))
for ax, image, digit, confidence in zip(
    axes, new_data, predicted_digits, predictions.max(axis=1), strict=True
):
    ax.imshow(image.squeeze(), cmap="gray_r")
    ax.set_title(f"{digit} ({confidence:.0%})", fontsize=9)
    ax.axis("off")
fig.suptitle("Predicted digit (confidence) for unseen test images")
plt.show()

# %% mistakes
# Every test image, and where the model goes wrong.
probabilities = model.predict(X_test, verbose=0)
predicted = probabilities.argmax(axis=1)
wrong = np.flatnonzero(predicted != y_test)
n_errors = len(wrong)
# confusion[true, predicted]: how often each digit was read as each other digit.
confusion = np.zeros((10, 10), dtype=int)
np.add.at(confusion, (y_test, predicted), 1)
# The commonest confusion: the (true, predicted) pair off the diagonal seen most often.
off_diagonal = confusion - np.diag(np.diag(confusion))
top_true, top_predicted = (
    int(i) for i in np.unravel_index(off_diagonal.argmax(), confusion.shape)
)
top_confusion_count = int(off_diagonal[top_true, top_predicted])
print(f"{n_errors} of {n_test:,} test digits misread.")
print("Rows: the true digit; columns: the digit predicted.")
print("     " + " ".join(f"{digit:>4}" for digit in range(10)))
for digit, row in enumerate(confusion):
    print(f"{digit:>4} " + " ".join(f"{count:>4}" for count in row))

shown = wrong[:16]
fig, axes = plt.subplots(2, 8, figsize=(10, 3.2))
for ax in axes.flat:
    ax.axis("off")
for ax, index in zip(axes.flat, shown, strict=False):
    ax.imshow(X_test[index].squeeze(), cmap="gray_r")
    ax.set_title(
        f"{predicted[index]} ({probabilities[index].max():.0%}), true {y_test[index]}",
        fontsize=8,
    )
fig.suptitle(f"The first {len(shown)} of the {n_errors} misread test digits")
plt.show()

# %% calibration
# Is a confidence of 90% right 90% of the time? Sort the test images into bins of
# confidence (the highest probability) and compare each bin's mean confidence with its
# accuracy. The expected calibration error (ECE) is that gap, averaged over the images.
confidence = probabilities.max(axis=1)
correct = predicted == y_test
edges = np.linspace(0, 1, 11)  # ten bins of width 0.1
which_bin = np.clip(np.digitize(confidence, edges) - 1, 0, 9)
expected_calibration_error = 0.0
print("confidence   images  mean confidence  accuracy")
for b in range(10):
    inside = which_bin == b
    if inside.any():
        gap = abs(confidence[inside].mean() - correct[inside].mean())
        expected_calibration_error += gap * inside.mean()
        print(
            f"{edges[b]:.1f}-{edges[b + 1]:.1f}   {inside.sum():>6}"
            f"  {confidence[inside].mean():>15.3f}  {correct[inside].mean():>8.3f}"
        )
confident_errors = int(np.sum(~correct & (confidence >= 0.9)))
print(f"Expected calibration error: {expected_calibration_error:.4f}")
print(f"Misread with a confidence of 90% or more: {confident_errors} of {n_errors}")
