# ---
# data:
#   - file: datasets/t10k-images-idx3-ubyte.gz
#     origin: https://storage.googleapis.com/cvdf-datasets/mnist/t10k-images-idx3-ubyte.gz
#     sha256: 8d422c7b0a1c1c79245a5bcf07fe86e33eeafee792b84584aec276f5a2dbc4e6
# timeout: 360  # about 150 s on one CPU core; room for a slower machine
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
# MNIST's documentation: the first 5,000 images of this file are cleaner and easier than
# the last 5,000. A fixed shuffle (the same split on every run) puts both halves in
# both sets, as in the classifiers of the other posts.
order = np.random.default_rng(0).permutation(len(images))
images = images[order]
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
# In bytes the saving is smaller: a pixel is one byte (0-255), a code number a
# 4-byte float.
compression_bytes = 28 * 28 / (CODE_SIZE * 4)
print(
    f"Each 784-pixel image is squeezed into {CODE_SIZE} numbers "
    f"({compression:.1f}x fewer numbers, {compression_bytes:.1f}x fewer bytes)."
)
print(f"Mean squared reconstruction error on test images: {reconstruction_mse:.4f}")

# %% pca
# The linear baseline: PCA keeps the CODE_SIZE directions along which the training
# images vary most; a test image is coded by its projections onto them, and rebuilt
# from those.
flat_train, flat_test = (
    X_train.reshape(len(X_train), -1),
    X_test.reshape(len(X_test), -1),
)
mean_image = flat_train.mean(axis=0)
_, _, directions = np.linalg.svd(flat_train - mean_image, full_matrices=False)
components = directions[:CODE_SIZE]  # (CODE_SIZE, 784)
pca_codes = (flat_test - mean_image) @ components.T
pca_rebuilt = np.clip(pca_codes @ components + mean_image, 0, 1)  # pixels lie in [0, 1]
pca_mse = float(np.mean((pca_rebuilt - flat_test) ** 2))
print(f"PCA with {CODE_SIZE} components: {pca_mse:.4f}")
print(f"Autoencoder with {CODE_SIZE} numbers: {reconstruction_mse:.4f}")

# %% reconstruct
originals = X_test[:10]
codes = encoder.predict(originals, verbose=0)
reconstructions = decoder.predict(codes, verbose=0)
rows = {
    "original": originals,
    f"autoencoder, {CODE_SIZE} numbers": reconstructions,
    f"PCA, {CODE_SIZE} numbers": pca_rebuilt[:10],
}
fig, axes = plt.subplots(len(rows), 10, figsize=(10, 3.6))
for row, (title, images) in zip(axes, rows.items(), strict=True):
    for ax, image in zip(row, images, strict=True):
        ax.imshow(image.reshape(28, 28), cmap="gray_r", vmin=0, vmax=1)
        ax.axis("off")
    row[0].set_title(title, loc="left", fontsize=9)
plt.show()
