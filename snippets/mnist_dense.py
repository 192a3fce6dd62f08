# ---
# data:
#   - file: datasets/t10k-images-idx3-ubyte.gz
#     origin: https://storage.googleapis.com/cvdf-datasets/mnist/t10k-images-idx3-ubyte.gz
#     sha256: 8d422c7b0a1c1c79245a5bcf07fe86e33eeafee792b84584aec276f5a2dbc4e6
#   - file: datasets/t10k-labels-idx1-ubyte.gz
#     origin: https://storage.googleapis.com/cvdf-datasets/mnist/t10k-labels-idx1-ubyte.gz
#     sha256: f7ae60f92e00ec6debd23a6088c31dbd2371eca3ffa0defaefb259924204aec6
# ---

# %% mnist-dense
import gzip

import keras
import numpy as np
from keras import layers, regularizers

keras.utils.set_random_seed(4)

# Load MNIST: the 10,000-image test file, split 8,000 / 2,000.
MNIST_URL = "https://storage.googleapis.com/cvdf-datasets/mnist/"


def load_idx(name, md5, header_bytes):
    """Download one MNIST IDX file (or find it in the Keras cache); return its bytes."""
    path = keras.utils.get_file(name, origin=MNIST_URL + name, file_hash=md5)
    with gzip.open(path, "rb") as f:
        return np.frombuffer(f.read(), dtype=np.uint8, offset=header_bytes)


images = load_idx("t10k-images-idx3-ubyte.gz", "9fb629c4189551a2d022fa330f9573f3", 16)
labels = load_idx("t10k-labels-idx1-ubyte.gz", "ec29112dd5afa0611ce80d1b7f02629c", 8)
# Scale pixels from 0-255 to 0-1.
images = images.reshape(-1, 28, 28).astype("float32") / 255.0
X_train, y_train, X_test, y_test = (
    images[:8000],
    labels[:8000],
    images[8000:],
    labels[8000:],
)
n_train, n_test = len(X_train), len(X_test)

# Define the model architecture
model = keras.Sequential(
    [
        keras.Input(shape=(28, 28)),
        # Input: flatten each 28x28 image into a vector of 784 pixels
        layers.Flatten(),
        # Hidden layer 1: 256 fully connected ReLU units, L2-regularized weights
        layers.Dense(256, kernel_regularizer=regularizers.L2(1e-4), use_bias=False),
        layers.BatchNormalization(),  # normalizes the outputs (and has its own offset)
        layers.Activation("relu"),
        # Hidden layer 2: 64 fully connected ReLU units
        layers.Dense(64, activation="relu", kernel_initializer="he_normal"),
        # Output layer: one probability per digit class
        layers.Dense(10, activation="softmax"),
    ],
    name="dense_classifier",
)
# Integer labels 0-9 go with the sparse categorical cross-entropy.
model.compile(
    optimizer="adam", loss="sparse_categorical_crossentropy", metrics=["accuracy"]
)
# Stop once the validation loss has not improved for PATIENCE epochs; keep the best
# epoch's weights.
EPOCHS, PATIENCE, VALIDATION = 20, 3, 0.1
early_stopping = keras.callbacks.EarlyStopping(
    monitor="val_loss", patience=PATIENCE, restore_best_weights=True
)
history = model.fit(
    X_train,
    y_train,
    epochs=EPOCHS,
    batch_size=64,
    validation_split=VALIDATION,
    callbacks=[early_stopping],
)
epochs_run, best_epoch = len(history.epoch), early_stopping.best_epoch + 1
# How far apart the model is on the images it trained on and on the held-out ones.
train_accuracy = history.history["accuracy"][best_epoch - 1]
validation_accuracy = history.history["val_accuracy"][best_epoch - 1]
final_train_accuracy = history.history["accuracy"][-1]
dense_test_loss, dense_test_accuracy = model.evaluate(X_test, y_test, verbose=0)
first_layer_parameters = model.layers[1].count_params()  # Dense(256), no bias
print(f"Stopped after {epochs_run} epochs; kept the weights of epoch {best_epoch}.")
print(
    f"Epoch {best_epoch}: training accuracy {train_accuracy:.4f}, "
    f"validation accuracy {validation_accuracy:.4f}"
)
print(f"Test accuracy: {dense_test_accuracy:.4f}")
