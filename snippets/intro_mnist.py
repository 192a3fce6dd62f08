# ---
# data:
#   - file: datasets/t10k-images-idx3-ubyte.gz
#     origin: https://storage.googleapis.com/cvdf-datasets/mnist/t10k-images-idx3-ubyte.gz
#     sha256: 8d422c7b0a1c1c79245a5bcf07fe86e33eeafee792b84584aec276f5a2dbc4e6
#   - file: datasets/t10k-labels-idx1-ubyte.gz
#     origin: https://storage.googleapis.com/cvdf-datasets/mnist/t10k-labels-idx1-ubyte.gz
#     sha256: f7ae60f92e00ec6debd23a6088c31dbd2371eca3ffa0defaefb259924204aec6
# resources: {cpus: 2}  # one of the longest trainings: two math threads
# ---

# %% load-data
import gzip

import keras
import matplotlib.pyplot as plt
import numpy as np
from keras import layers
from keras.callbacks import EarlyStopping
from keras.optimizers import Adam
from keras.utils import to_categorical

keras.utils.set_random_seed(1)

# Load the MNIST dataset: the 10,000-image file MNIST publishes as its test set.
MNIST_URL = "https://storage.googleapis.com/cvdf-datasets/mnist/"


def load_idx(name, md5, header_bytes):
    """Download one MNIST IDX file (or find it in the Keras cache); return its bytes."""
    path = keras.utils.get_file(name, origin=MNIST_URL + name, file_hash=md5)
    with gzip.open(path, "rb") as f:
        return np.frombuffer(f.read(), dtype=np.uint8, offset=header_bytes)


images = load_idx("t10k-images-idx3-ubyte.gz", "9fb629c4189551a2d022fa330f9573f3", 16)
labels = load_idx("t10k-labels-idx1-ubyte.gz", "ec29112dd5afa0611ce80d1b7f02629c", 8)
images = images.reshape(-1, 28, 28, 1).astype("float32") / 255.0
x_train, x_test = images[:8000], images[8000:]
# to_categorical turns labels 0-9 into the one-hot vectors the loss compares with.
y_train, y_test = to_categorical(labels[:8000], 10), to_categorical(labels[8000:], 10)
n_train, n_test = len(x_train), len(x_test)
print("x_train:", x_train.shape, "y_train:", y_train.shape)

# %% cnn
# Define a simple convolutional neural network
model = keras.Sequential(
    [
        keras.Input(shape=(28, 28, 1)),
        layers.Conv2D(32, 3, activation="relu"),
        layers.MaxPooling2D(2),
        layers.Conv2D(64, 3, activation="relu"),
        layers.MaxPooling2D(2),
        layers.Flatten(),
        layers.Dropout(0.3),
        layers.Dense(10, activation="softmax"),
    ],
    name="simple_cnn",
)
# Compile the model with a categorical cross-entropy loss function and an Adam optimizer
model.compile(
    optimizer=Adam(learning_rate=1e-3),
    loss="categorical_crossentropy",
    metrics=["accuracy"],
)

# %% train
# Train the model for at most EPOCHS epochs, holding out a VALIDATION share of the
# training images; stop when the validation loss has not improved for PATIENCE epochs.
EPOCHS, PATIENCE, VALIDATION = 30, 3, 0.1
early_stopping = EarlyStopping(
    monitor="val_loss", patience=PATIENCE, restore_best_weights=True
)
history = model.fit(
    x_train,
    y_train,
    epochs=EPOCHS,
    batch_size=64,
    validation_split=VALIDATION,
    callbacks=[early_stopping],
)
epochs_run = len(history.history["loss"])
best_epoch = int(np.argmin(history.history["val_loss"])) + 1
cnn_test_loss, cnn_test_accuracy = model.evaluate(x_test, y_test, verbose=0)
print(f"Stopped after {epochs_run} epochs; kept the weights of epoch {best_epoch}.")
print(f"Test accuracy: {cnn_test_accuracy:.4f}")

# %% plot-accuracy
# Plot the accuracy of the model, epoch by epoch, and its final accuracy on the test set
plt.figure(figsize=(6, 3.5))
epochs = range(1, epochs_run + 1)
plt.plot(epochs, history.history["accuracy"], "o-", label="training")
plt.plot(epochs, history.history["val_accuracy"], "o-", label="validation")
plt.axhline(
    cnn_test_accuracy, color="gray", linestyle="--", label="test (restored weights)"
)
plt.xlabel("epoch")
plt.ylabel("accuracy")
plt.title("Accuracy of the simple CNN")
plt.legend()
plt.show()

# %% functional
# Define a deep learning model for image classification with the functional API
# (keras.Model): a shortcut adds a block's input to its output, which Sequential cannot.
inputs = keras.Input(shape=(28, 28, 1))
x = layers.Conv2D(32, 3, activation="relu")(inputs)
x = layers.MaxPooling2D(2)(x)
shortcut = x
x = layers.Conv2D(32, 3, padding="same", activation="relu")(x)
x = layers.Conv2D(32, 3, padding="same")(x)
x = layers.Activation("relu")(layers.add([x, shortcut]))
x = layers.MaxPooling2D(2)(x)
x = layers.Flatten()(x)
x = layers.Dropout(0.3)(x)
outputs = layers.Dense(10, activation="softmax")(x)
functional_model = keras.Model(inputs, outputs, name="residual_cnn")

functional_model.compile(
    optimizer=Adam(1e-3), loss="categorical_crossentropy", metrics=["accuracy"]
)
FUNCTIONAL_EPOCHS = 10
functional_model.fit(
    x_train,
    y_train,
    epochs=FUNCTIONAL_EPOCHS,
    batch_size=64,
    validation_split=VALIDATION,
)
functional_test_loss, functional_test_accuracy = functional_model.evaluate(
    x_test, y_test, verbose=0
)
print(f"Test accuracy of the functional model: {functional_test_accuracy:.4f}")
