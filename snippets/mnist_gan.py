# ---
# data:
#   - file: datasets/t10k-images-idx3-ubyte.gz
#     origin: https://storage.googleapis.com/cvdf-datasets/mnist/t10k-images-idx3-ubyte.gz
#     sha256: 8d422c7b0a1c1c79245a5bcf07fe86e33eeafee792b84584aec276f5a2dbc4e6
# timeout: 360  # about 2.5 minutes on 1 CPU core; room for a slower machine
# ---

# %% load-data
import gzip

import keras
import matplotlib.pyplot as plt
import numpy as np
from keras import layers

keras.utils.set_random_seed(5)

path = keras.utils.get_file(
    "t10k-images-idx3-ubyte.gz",
    origin="https://storage.googleapis.com/cvdf-datasets/mnist/t10k-images-idx3-ubyte.gz",
    file_hash="9fb629c4189551a2d022fa330f9573f3",
)
with gzip.open(path, "rb") as f:
    images = np.frombuffer(f.read(), dtype=np.uint8, offset=16)
# Scale pixels to [-1, 1], the range of the generator's tanh output.
real_images = images.reshape(-1, 784).astype("float32") / 127.5 - 1.0
n_images = len(real_images)

# %% models
LATENT = 64
generator = keras.Sequential(
    [
        keras.Input(shape=(LATENT,)),
        layers.Dense(256),
        layers.LeakyReLU(0.2),
        layers.Dense(512),
        layers.LeakyReLU(0.2),
        layers.Dense(784, activation="tanh"),
    ],
    name="generator",
)


def make_discriminator(name):
    return keras.Sequential(
        [
            keras.Input(shape=(784,)),
            layers.Dense(512),
            layers.LeakyReLU(0.2),
            layers.Dropout(0.3),
            layers.Dense(256),
            layers.LeakyReLU(0.2),
            layers.Dense(1, activation="sigmoid"),
        ],
        name=name,
    )


discriminator = make_discriminator("discriminator")


class FrozenView(layers.Layer):
    """The discriminator's forward pass with its weights held constant: the generator's
    loss flows through it back to the generator, and never changes the discriminator."""

    def __init__(self, critic, **kwargs):
        super().__init__(**kwargs)
        self.critic = critic

    def call(self, x, training=None):
        for layer in self.critic.layers:
            if isinstance(layer, layers.Dense):
                kernel = keras.ops.stop_gradient(layer.kernel)
                bias = keras.ops.stop_gradient(layer.bias)
                x = layer.activation(keras.ops.matmul(x, kernel) + bias)
            else:  # LeakyReLU and Dropout hold no weights
                x = layer(x, training=training)
        return x


class StopGradient(layers.Layer):
    """Fake images as the discriminator sees them: no gradient reaches the generator."""

    def call(self, x):
        return keras.ops.stop_gradient(x)


real = keras.Input(shape=(784,), name="real")
noise = keras.Input(shape=(LATENT,), name="noise")
fake = generator(noise)
# What each output should say: 1 for real images, 0 for fakes; the generator wants the
# frozen discriminator to say 1 for its fakes.
outputs = {
    "d_real": layers.Identity(name="d_real")(discriminator(real)),
    "d_fake": layers.Identity(name="d_fake")(discriminator(StopGradient()(fake))),
    "g_fool": layers.Identity(name="g_fool")(FrozenView(discriminator)(fake)),
}
gan = keras.Model([real, noise], outputs, name="gan")
gan.compile(
    optimizer=keras.optimizers.Adam(2e-4, beta_1=0.5),
    loss={name: "binary_crossentropy" for name in outputs},
)

# %% train
EPOCHS = 20
ones, zeros = np.ones((n_images, 1)), np.zeros((n_images, 1))
z = np.random.default_rng(5).normal(size=(n_images, LATENT)).astype("float32")
history = gan.fit(
    {"real": real_images, "noise": z},
    {"d_real": ones, "d_fake": zeros, "g_fool": ones},
    epochs=EPOCHS,
    batch_size=64,
    verbose=0,
)
final_losses = {name: round(values[-1], 3) for name, values in history.history.items()}
print("losses after", EPOCHS, "epochs:", final_losses)

# %% generate
samples = keras.ops.convert_to_numpy(
    generator(np.random.default_rng(0).normal(size=(32, LATENT)))
)
fig, axes = plt.subplots(4, 8, figsize=(8, 4.2))
for ax, image in zip(axes.flat, samples, strict=True):
    ax.imshow(image.reshape(28, 28), cmap="gray_r")
    ax.axis("off")
fig.suptitle(f"Digits drawn by the generator after {EPOCHS} epochs")
plt.show()
