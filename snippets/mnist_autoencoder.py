# ---
# data:
#   - file: datasets/t10k-images-idx3-ubyte.gz
#     origin: https://storage.googleapis.com/cvdf-datasets/mnist/t10k-images-idx3-ubyte.gz
#     sha256: 8d422c7b0a1c1c79245a5bcf07fe86e33eeafee792b84584aec276f5a2dbc4e6
# ---

# %% load-data
import gzip

import keras
import matplotlib.pyplot as plt
import numpy as np
from keras import layers

keras.utils.set_random_seed(11)

MNIST_URL = "https://storage.googleapis.com/cvdf-datasets/mnist/"
path = keras.utils.get_file(
    "t10k-images-idx3-ubyte.gz",
    origin=MNIST_URL + "t10k-images-idx3-ubyte.gz",
    file_hash="9fb629c4189551a2d022fa330f9573f3",
)
with gzip.open(path, "rb") as f:
    images = np.frombuffer(f.read(), dtype=np.uint8, offset=16)
# An autoencoder needs no labels: the image is both the input and the target.
images = images.reshape(-1, 28, 28, 1).astype("float32") / 255.0
X_train, X_test = images[:8000], images[8000:]

# %% autoencoder
CODE_SIZE = 32
encoder = keras.Sequential(
    [
        keras.Input(shape=(28, 28, 1)),
        layers.Conv2D(16, 3, activation="relu", padding="same"),
        layers.MaxPooling2D(2),  # 14 x 14
        layers.Conv2D(8, 3, activation="relu", padding="same"),
        layers.MaxPooling2D(2),  # 7 x 7
        layers.Flatten(),
        layers.Dense(CODE_SIZE, name="bottleneck"),
    ],
    name="encoder",
)
decoder = keras.Sequential(
    [
        keras.Input(shape=(CODE_SIZE,)),
        layers.Dense(7 * 7 * 8, activation="relu"),
        layers.Reshape((7, 7, 8)),
        layers.Conv2DTranspose(
            8, 3, strides=2, activation="relu", padding="same"
        ),  # 14 x 14
        layers.Conv2DTranspose(
            16, 3, strides=2, activation="relu", padding="same"
        ),  # 28 x 28
        layers.Conv2D(1, 3, activation="sigmoid", padding="same"),
    ],
    name="decoder",
)
autoencoder = keras.Sequential([encoder, decoder], name="autoencoder")
autoencoder.compile(optimizer="adam", loss="mse")
autoencoder.fit(X_train, X_train, epochs=15, batch_size=128, validation_split=0.1)
reconstruction_mse = autoencoder.evaluate(X_test, X_test, verbose=0)
compression = 28 * 28 / CODE_SIZE
print(
    f"Each 784-pixel image is squeezed into {CODE_SIZE} numbers "
    f"({compression:.1f}x smaller)."
)
print(f"Mean squared reconstruction error on test images: {reconstruction_mse:.4f}")

# %% reconstruct
originals = X_test[:10]
codes = encoder.predict(originals, verbose=0)
reconstructions = decoder.predict(codes, verbose=0)
fig, axes = plt.subplots(2, 10, figsize=(10, 2.4))
for column in range(10):
    axes[0, column].imshow(originals[column].squeeze(), cmap="gray_r")
    axes[1, column].imshow(reconstructions[column].squeeze(), cmap="gray_r")
    axes[0, column].axis("off")
    axes[1, column].axis("off")
axes[0, 0].set_title("original", loc="left", fontsize=9)
axes[1, 0].set_title(f"rebuilt from {CODE_SIZE} numbers", loc="left", fontsize=9)
plt.show()
