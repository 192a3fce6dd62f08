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
from keras import layers

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
# MNIST's documentation: the first 5,000 images of this file are cleaner and easier than
# the last 5,000. A fixed shuffle (the same split on every run) puts both halves in
# both sets.
order = np.random.default_rng(0).permutation(len(labels))
images, labels = images[order], labels[order]
X_train, y_train, X_test, y_test = (
    images[:8000],
    labels[:8000],
    images[8000:],
    labels[8000:],
)
n_train, n_test = len(X_train), len(X_test)
# The last VALIDATION share of the training images is held out to choose the epoch.
EPOCHS, PATIENCE, VALIDATION = 40, 3, 0.1
n_fit = int(n_train * (1 - VALIDATION))
X_fit, y_fit = X_train[:n_fit], y_train[:n_fit]
X_val, y_val = X_train[n_fit:], y_train[n_fit:]

# Define the model architecture
model = keras.Sequential(
    [
        keras.Input(shape=(28, 28)),
        # Input: flatten each 28x28 image into a vector of 784 pixels
        layers.Flatten(),
        # Hidden layer 1: 256 fully connected units, batch-normalized (which has its own
        # offset, so the layer needs no bias), then ReLU
        layers.Dense(256, use_bias=False),
        layers.BatchNormalization(),
        layers.Activation("relu"),
        # Dropout: during training, a random 30% of these units output 0 at every step
        layers.Dropout(0.3),
        # Hidden layer 2: 64 fully connected ReLU units
        layers.Dense(64, activation="relu", kernel_initializer="he_normal"),
        # Output layer: one probability per digit class
        layers.Dense(10, activation="softmax"),
    ],
    name="dense_classifier",
)
# AdamW: Adam with decoupled weight decay, which shrinks every weight by a small factor
# at each step. (An L2 penalty in the loss is not the same thing under Adam; and on a
# layer followed by batch normalization, which undoes any scaling, it would only change
# that layer's effective learning rate.)
WEIGHT_DECAY = 0.004  # Keras's default for AdamW
model.compile(
    optimizer=keras.optimizers.AdamW(weight_decay=WEIGHT_DECAY),
    loss="sparse_categorical_crossentropy",  # integer labels 0-9
    metrics=["accuracy"],
)
# Stop once the validation loss has not improved for PATIENCE epochs and restore the
# best epoch's weights; keep_last saves the last epoch's first, to show what stopping
# bought.
last_weights = []
keep_last = keras.callbacks.LambdaCallback(
    on_train_end=lambda logs: last_weights.append(model.get_weights())
)
early_stopping = keras.callbacks.EarlyStopping(
    monitor="val_loss", patience=PATIENCE, restore_best_weights=True
)
history = model.fit(
    X_fit,
    y_fit,
    epochs=EPOCHS,
    batch_size=64,
    validation_data=(X_val, y_val),
    callbacks=[keep_last, early_stopping],
)
epochs_run, best_epoch = len(history.epoch), early_stopping.best_epoch + 1
# Accuracies in inference mode (no dropout; batch normalization uses its running
# statistics), unlike the training accuracy in the curves, a running mean over each
# epoch with dropout on. The gap between training and held-out images is overfitting.
train_accuracy = model.evaluate(X_fit, y_fit, verbose=0)[1]
validation_accuracy = model.evaluate(X_val, y_val, verbose=0)[1]
dense_test_loss, dense_test_accuracy = model.evaluate(X_test, y_test, verbose=0)
first_layer_parameters = model.layers[1].count_params()  # Dense(256), no bias
# The model early stopping did not keep: the weights of the last epoch.
best_weights = model.get_weights()
model.set_weights(last_weights[0])
final_train_accuracy = model.evaluate(X_fit, y_fit, verbose=0)[1]
final_test_accuracy = model.evaluate(X_test, y_test, verbose=0)[1]
model.set_weights(best_weights)
print(f"Stopped after {epochs_run} epochs; kept the weights of epoch {best_epoch}.")
print(
    f"Kept (epoch {best_epoch}): training images {train_accuracy:.4f}, "
    f"held-out {validation_accuracy:.4f}, test {dense_test_accuracy:.4f}"
)
print(
    f"Last (epoch {epochs_run}): training images {final_train_accuracy:.4f}, "
    f"test {final_test_accuracy:.4f}"
)
