# ---
# data:
#   - file: datasets/t10k-images-idx3-ubyte.gz
#     origin: https://storage.googleapis.com/cvdf-datasets/mnist/t10k-images-idx3-ubyte.gz
#     sha256: 8d422c7b0a1c1c79245a5bcf07fe86e33eeafee792b84584aec276f5a2dbc4e6
#   - file: datasets/t10k-labels-idx1-ubyte.gz
#     origin: https://storage.googleapis.com/cvdf-datasets/mnist/t10k-labels-idx1-ubyte.gz
#     sha256: f7ae60f92e00ec6debd23a6088c31dbd2371eca3ffa0defaefb259924204aec6
# timeout: 300  # two baselines and two networks: about 2 minutes on 1 CPU core
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
# MNIST's documentation: the first 5,000 images of this file are cleaner and easier than
# the last 5,000. A fixed shuffle (the same split on every run) puts both halves in
# both sets.
order = np.random.default_rng(0).permutation(len(labels))
images, labels = images[order], labels[order]
X_train, y_train = images[:8000], labels[:8000]
X_test, y_test = images[8000:], labels[8000:]
n_train, n_test = len(X_train), len(X_test)
print("training images:", X_train.shape, "test images:", X_test.shape)
print("first labels:", y_train[:10])

# %% baselines
# Two classic baselines on the same split. k-nearest neighbours: no training, each test
# image takes the majority label of the 3 training images closest to it in pixel space.
K = 3
train_flat, test_flat = X_train.reshape(n_train, -1), X_test.reshape(n_test, -1)
distances = (
    (test_flat**2).sum(axis=1)[:, None]
    - 2 * test_flat @ train_flat.T
    + (train_flat**2).sum(axis=1)[None, :]
)
votes = y_train[np.argsort(distances, axis=1)[:, :K]]  # nearest first
# With k = 3 a label has a majority when the 2nd and 3rd neighbour agree, or else it is
# the nearest one's (which also breaks a three-way tie).
knn_predicted = np.where(votes[:, 1] == votes[:, 2], votes[:, 1], votes[:, 0])
knn_accuracy = float(np.mean(knn_predicted == y_test))
print(f"{K}-nearest neighbours: test accuracy {knn_accuracy:.4f}")

# Logistic regression: one Dense softmax layer on the 784 pixels, trained like the
# networks below (the same validation images and early stopping).
EPOCHS, PATIENCE, VALIDATION = 60, 3, 0.1
linear = keras.Sequential(
    [
        keras.Input(shape=(28, 28)),
        layers.Flatten(),
        layers.Dense(10, activation="softmax"),
    ],
    name="logistic_regression",
)
linear.compile(
    optimizer="adam", loss="sparse_categorical_crossentropy", metrics=["accuracy"]
)
linear.fit(
    X_train,
    y_train,
    epochs=EPOCHS,
    batch_size=128,
    validation_split=VALIDATION,
    callbacks=[
        keras.callbacks.EarlyStopping(patience=PATIENCE, restore_best_weights=True)
    ],
    verbose=0,
)
linear_test_accuracy = float(linear.evaluate(X_test, y_test, verbose=0)[1])
print(f"Logistic regression: test accuracy {linear_test_accuracy:.4f}")


def multiply_adds(model):
    """Multiply-adds to classify one image: the compute a layer's weights cost."""
    total = 0
    for layer in model.layers:
        if isinstance(layer, layers.Dense):
            total += layer.kernel.shape[0] * layer.kernel.shape[1]
        elif isinstance(layer, layers.Conv2D):
            height, width, filters = layer.output.shape[1:]
            kernel_height, kernel_width, channels, _ = layer.kernel.shape
            total += height * width * filters * kernel_height * kernel_width * channels
    return total


# %% mlp
# Both models train on 90% of the training images, stop when the loss on the other 10%
# has not improved for PATIENCE epochs, and keep their best epoch. EPOCHS is only a cap:
# both stop themselves long before it.
mlp_stopping = keras.callbacks.EarlyStopping(
    patience=PATIENCE, restore_best_weights=True
)

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
mlp_history = model.fit(
    X_train,
    y_train,
    epochs=EPOCHS,
    batch_size=128,
    validation_split=VALIDATION,
    callbacks=[mlp_stopping],
)
mlp_best_epoch = mlp_stopping.best_epoch + 1
mlp_test_loss, mlp_test_accuracy = model.evaluate(X_test, y_test, verbose=0)
mlp_parameters = model.count_params()
mlp_hidden_parameters = model.layers[1].count_params()  # the Dense(128) layer
mlp_multiply_adds = multiply_adds(model)
mlp_epochs_run = len(mlp_history.epoch)
print(f"Test loss: {mlp_test_loss:.4f}")
print(f"Test accuracy: {mlp_test_accuracy:.4f}")

# %% cnn
# Conv2D expects a channel axis: (28, 28) images become (28, 28, 1).
X_train_cnn = X_train[..., np.newaxis]
X_test_cnn = X_test[..., np.newaxis]
# categorical_crossentropy compares with one-hot vectors: integer labels are encoded.
Y_train = keras.utils.to_categorical(y_train, num_classes=10)
Y_test = keras.utils.to_categorical(y_test, num_classes=10)

# Two convolution and pooling stages shrink the image to 5x5x32 before the dense layers,
# which keeps the CNN's parameter count near the dense network's (not its compute: the
# same filter weights are applied at every position).
model = keras.Sequential(
    [
        keras.Input(shape=(28, 28, 1)),
        layers.Conv2D(32, (3, 3), activation="relu"),  # 26 x 26 x 32
        layers.MaxPooling2D((2, 2)),  # 13 x 13 x 32
        layers.Conv2D(32, (3, 3), activation="relu"),  # 11 x 11 x 32
        layers.MaxPooling2D((2, 2)),  # 5 x 5 x 32
        layers.Flatten(),
        layers.Dense(128, activation="relu"),
        layers.Dense(10, activation="softmax"),
    ],
    name="cnn",
)
model.compile(optimizer="adam", loss="categorical_crossentropy", metrics=["accuracy"])
cnn_stopping = keras.callbacks.EarlyStopping(
    patience=PATIENCE, restore_best_weights=True
)
cnn_history = model.fit(
    X_train_cnn,
    Y_train,
    epochs=EPOCHS,
    batch_size=128,
    validation_split=VALIDATION,
    callbacks=[cnn_stopping],
)
cnn_best_epoch = cnn_stopping.best_epoch + 1
cnn_test_loss, cnn_test_accuracy = model.evaluate(X_test_cnn, Y_test, verbose=0)
cnn_parameters = model.count_params()
cnn_first_conv_parameters = model.layers[0].count_params()
cnn_multiply_adds = multiply_adds(model)
cnn_epochs_run = len(cnn_history.epoch)
compute_ratio = cnn_multiply_adds / mlp_multiply_adds
# How many of the dense network's test errors the CNN avoids.
error_reduction = 1 - (1 - cnn_test_accuracy) / (1 - mlp_test_accuracy)
print(f"Test loss: {cnn_test_loss:.4f}")
print(f"Test accuracy: {cnn_test_accuracy:.4f}")
print(f"{cnn_parameters:,} parameters against the dense network's {mlp_parameters:,}")
print(
    f"{compute_ratio:.1f}x its multiply-adds per image; "
    f"{error_reduction:.0%} fewer test errors"
)
