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
import numpy as np
from keras import layers

keras.utils.set_random_seed(42)

MNIST_URL = "https://storage.googleapis.com/cvdf-datasets/mnist/"


def load_idx(name, md5, header_bytes):
    """Download one MNIST IDX file (or find it in the Keras cache); return its bytes."""
    path = keras.utils.get_file(name, origin=MNIST_URL + name, file_hash=md5)
    with gzip.open(path, "rb") as f:
        return np.frombuffer(f.read(), dtype=np.uint8, offset=header_bytes)


# The 10,000-image MNIST test file, split into 8,000 training and 2,000 test images.
images = load_idx("t10k-images-idx3-ubyte.gz", "9fb629c4189551a2d022fa330f9573f3", 16)
labels = load_idx("t10k-labels-idx1-ubyte.gz", "ec29112dd5afa0611ce80d1b7f02629c", 8)
images = images.reshape(-1, 28, 28).astype("float32") / 255.0
X_train, y_train = images[:8000], labels[:8000]
X_test, y_test = images[8000:], labels[8000:]
n_train, n_test = len(X_train), len(X_test)
print("training images:", X_train.shape, "test images:", X_test.shape)
print("first labels:", y_train[:10])

# %% mlp
model = keras.Sequential(
    [
        keras.Input(shape=(28, 28)),
        layers.Flatten(),
        layers.Dense(128, activation="relu"),
        layers.Dense(10, activation="softmax"),
    ],
    name="mlp",
)
model.compile(
    optimizer="adam", loss="sparse_categorical_crossentropy", metrics=["accuracy"]
)
model.fit(X_train, y_train, epochs=10, batch_size=128, validation_split=0.1)
mlp_test_loss, mlp_test_accuracy = model.evaluate(X_test, y_test, verbose=0)
mlp_parameters = model.count_params()
print(f"Test loss: {mlp_test_loss:.4f}")
print(f"Test accuracy: {mlp_test_accuracy:.4f}")

# %% cnn
# Conv2D expects a channel axis: (28, 28) images become (28, 28, 1).
X_train_cnn = X_train[..., np.newaxis]
X_test_cnn = X_test[..., np.newaxis]
# categorical_crossentropy compares with one-hot vectors, so the integer labels are encoded.
Y_train = keras.utils.to_categorical(y_train, num_classes=10)
Y_test = keras.utils.to_categorical(y_test, num_classes=10)

model = keras.Sequential(
    [
        keras.Input(shape=(28, 28, 1)),
        layers.Conv2D(32, (3, 3), activation="relu"),
        layers.MaxPooling2D((2, 2)),
        layers.Flatten(),
        layers.Dense(128, activation="relu"),
        layers.Dense(10, activation="softmax"),
    ],
    name="cnn",
)
model.compile(optimizer="adam", loss="categorical_crossentropy", metrics=["accuracy"])
model.fit(X_train_cnn, Y_train, epochs=10, batch_size=128, validation_split=0.1)
cnn_test_loss, cnn_test_accuracy = model.evaluate(X_test_cnn, Y_test, verbose=0)
print(f"Test loss: {cnn_test_loss:.4f}")
print(f"Test accuracy: {cnn_test_accuracy:.4f}")
