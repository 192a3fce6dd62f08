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

keras.utils.set_random_seed(9)

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
x_train, y_train, x_test, y_test = (
    images[:8000],
    labels[:8000],
    images[8000:],
    labels[8000:],
)
n_train, n_test = len(x_train), len(x_test)

# %% vgg


def vgg_block(filters, convolutions):
    """VGG's building block: a stack of 3x3 convolutions, then 2x2 max pooling."""
    block = [
        layers.Conv2D(filters, 3, padding="same", activation="relu")
        for _ in range(convolutions)
    ]
    return [*block, layers.MaxPooling2D(2)]


model = keras.Sequential(
    [
        keras.Input(shape=(28, 28, 1)),
        *vgg_block(16, 2),  # 28x28 -> 14x14
        *vgg_block(32, 2),  # 14x14 -> 7x7
        layers.Flatten(),
        layers.Dense(
            64, activation="relu"
        ),  # the classifier head VGG16(include_top=False) leaves out
        layers.Dropout(0.3),
        layers.Dense(10, activation="softmax"),
    ],
    name="small_vgg",
)
model.compile(
    optimizer="adam", loss="sparse_categorical_crossentropy", metrics=["accuracy"]
)
model.summary()
vgg_parameters = model.count_params()

# %% train
model.fit(x_train, y_train, epochs=8, batch_size=64, validation_split=0.1)
vgg_test_loss, vgg_test_accuracy = model.evaluate(x_test, y_test, verbose=0)
print(f"Test loss: {vgg_test_loss:.4f}")
print(f"Test accuracy: {vgg_test_accuracy:.4f}")
