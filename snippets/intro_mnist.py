# ---
# data:
#   - file: datasets/t10k-images-idx3-ubyte.gz
#     origin: https://storage.googleapis.com/cvdf-datasets/mnist/t10k-images-idx3-ubyte.gz
#     sha256: 8d422c7b0a1c1c79245a5bcf07fe86e33eeafee792b84584aec276f5a2dbc4e6
#   - file: datasets/t10k-labels-idx1-ubyte.gz
#     origin: https://storage.googleapis.com/cvdf-datasets/mnist/t10k-labels-idx1-ubyte.gz
#     sha256: f7ae60f92e00ec6debd23a6088c31dbd2371eca3ffa0defaefb259924204aec6
# timeout: 420  # three CNNs: about 3 minutes on 1 CPU core
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
# MNIST's documentation: the first 5,000 images of this file are cleaner and easier than
# the last 5,000. A fixed shuffle (the same split on every run) puts both halves in
# both sets.
order = np.random.default_rng(0).permutation(len(labels))
images, labels = images[order], labels[order]
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
# Plot the error rate (1 - accuracy) epoch by epoch, and on the test set, on a log axis:
# the story is between 1% and 3%, which a linear accuracy axis squashes into its top.
plt.figure(figsize=(6, 3.5))
epochs = range(1, epochs_run + 1)
training_error = 1 - np.array(history.history["accuracy"])
validation_error = 1 - np.array(history.history["val_accuracy"])
plt.plot(epochs, training_error, "o-", label="training (running mean, dropout on)")
plt.plot(epochs, validation_error, "o-", label="validation")
plt.axhline(
    1 - cnn_test_accuracy, color="gray", linestyle="--", label="test (restored weights)"
)
plt.yscale("log")
plt.xlabel("epoch")
plt.ylabel("error rate (log scale)")
plt.title("Error rate of the simple CNN")
plt.legend()
plt.show()

# %% functional
# Define a deep learning model for image classification with the functional API
# (keras.Model): a shortcut adds a block's input to its output, which Sequential cannot.
# With shortcut=False the same layers run without it: the ablation.


def small_resnet(shortcut, name):
    inputs = keras.Input(shape=(28, 28, 1))
    x = layers.Conv2D(32, 3, activation="relu")(inputs)
    x = layers.MaxPooling2D(2)(x)
    block_input = x
    x = layers.Conv2D(32, 3, padding="same", activation="relu")(x)
    x = layers.Conv2D(32, 3, padding="same")(x)
    if shortcut:
        x = layers.add([x, block_input])
    x = layers.Activation("relu")(x)
    x = layers.MaxPooling2D(2)(x)
    x = layers.Flatten()(x)
    x = layers.Dropout(0.3)(x)
    outputs = layers.Dense(10, activation="softmax")(x)
    model = keras.Model(inputs, outputs, name=name)
    model.compile(
        optimizer=Adam(1e-3), loss="categorical_crossentropy", metrics=["accuracy"]
    )
    return model


# Both models get the same budget: at most FUNCTIONAL_EPOCHS epochs in batches of 128,
# the CNN's early stopping, and the weights of the epoch with the lowest validation
# loss.
FUNCTIONAL_EPOCHS = 10


def train_and_test(model):
    stopping = EarlyStopping(patience=PATIENCE, restore_best_weights=True)
    model.fit(
        x_train,
        y_train,
        epochs=FUNCTIONAL_EPOCHS,
        batch_size=128,
        validation_split=VALIDATION,
        callbacks=[stopping],
    )
    return model.evaluate(x_test, y_test, verbose=0)[1]


functional_model = small_resnet(shortcut=True, name="residual_cnn")
functional_test_accuracy = train_and_test(functional_model)
ablation_test_accuracy = train_and_test(
    small_resnet(shortcut=False, name="no_shortcut")
)
print(f"Test accuracy with the shortcut:    {functional_test_accuracy:.4f}")
print(f"Test accuracy without the shortcut: {ablation_test_accuracy:.4f}")
