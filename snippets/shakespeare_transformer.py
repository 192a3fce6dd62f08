# ---
# data:
#   - file: datasets/shakespeare.txt
#     origin: https://storage.googleapis.com/download.tensorflow.org/data/shakespeare.txt
#     sha256: 86c4e6aa9db7c042ec79f339dcb96d42b0075e16b8fc2e86bf0ca57e2dc565ed
# timeout: 600  # two trainings: about 4 minutes on 1 CPU core, room for a slower one
# ---

# %% load-text
import math
import re

import keras
import matplotlib.pyplot as plt
import numpy as np
from keras import layers, ops
from matplotlib.colors import LogNorm
from numpy.lib.stride_tricks import sliding_window_view

keras.utils.set_random_seed(42)

path = keras.utils.get_file(
    "shakespeare.txt",
    origin="https://storage.googleapis.com/download.tensorflow.org/data/shakespeare.txt",
)
with open(path, encoding="utf-8") as f:
    corpus = f.read()
TEXT_CHARACTERS = 200_000  # the same start of the corpus as the LSTM post
text = corpus[:TEXT_CHARACTERS]
vocabulary = sorted(set(text))
char_to_id = {c: i for i, c in enumerate(vocabulary)}
ids = np.array([char_to_id[c] for c in text], dtype="int32")
vocabulary_size = len(vocabulary)

# The LSTM post's samples: 40 characters, a new one every 10 characters, the first 90%
# for training. The Transformer's target is the input shifted by one character, so
# every position learns to predict its next character; the last is the LSTM's target.
SEQUENCE_LENGTH, STRIDE, VALIDATION = 40, 10, 0.1
starts = np.arange(0, len(ids) - SEQUENCE_LENGTH, STRIDE)
X = np.stack([ids[s : s + SEQUENCE_LENGTH] for s in starts])
Y = np.stack([ids[s + 1 : s + SEQUENCE_LENGTH + 1] for s in starts])
split = int(0.9 * len(X))
X_train, Y_train, X_test, Y_test = X[:split], Y[:split], X[split:], Y[split:]
n_train, n_test = len(X_train), len(X_test)
print(f"{n_train:,} training and {n_test:,} test sequences")

# A baseline with one character of context: after character c, guess the character
# that most often follows c in the training text.
following = np.zeros((vocabulary_size, vocabulary_size), dtype="int64")
np.add.at(following, (X_train.ravel(), Y_train.ravel()), 1)
bigram_accuracy = float(
    np.mean(following.argmax(axis=1)[X_test[:, -1]] == Y_test[:, -1])
)
print(f"Bigram baseline (next character after the last one): {bigram_accuracy:.4f}")

# A stronger baseline, still without training: an n-gram model. The probability of the
# next character given the last n-1 comes from counts in the training text, interpolated
# with shorter contexts (Witten-Bell smoothing), so an unseen context still gets one.


def ngram_counts(train_ids, order):
    """For n = 1..order: every n-gram seen (as a base-V number, sorted) and its count,
    and for every context of n-1 characters its total count and number of followers."""
    tables = []
    for n in range(1, order + 1):
        codes = (
            sliding_window_view(train_ids, n) @ vocabulary_size ** np.arange(n)[::-1]
        )
        grams, counts = np.unique(codes, return_counts=True)
        contexts, which = np.unique(grams // vocabulary_size, return_inverse=True)
        totals, followers = np.bincount(which, weights=counts), np.bincount(which)
        tables.append((grams, counts, contexts, totals, followers))
    return tables


def find(sorted_codes, codes):
    """Where each code is in sorted_codes, and whether it is there at all."""
    index = np.minimum(np.searchsorted(sorted_codes, codes), len(sorted_codes) - 1)
    return index, sorted_codes[index] == codes


def ngram_probabilities(tables, windows, targets):
    """P(target | the window's last n-1 characters), from n = 0 (uniform) upwards."""
    probability = np.full(len(targets), 1 / vocabulary_size)
    for n, (grams, counts, contexts, totals, followers) in enumerate(tables, start=1):
        last = windows[:, SEQUENCE_LENGTH - (n - 1) :]
        context = last @ vocabulary_size ** np.arange(n - 1, dtype="int64")[::-1]
        at, seen = find(grams, context * vocabulary_size + targets)
        count = np.where(seen, counts[at], 0)
        at, known = find(contexts, context)
        total = np.where(known, totals[at], 0)
        kinds = np.where(known, followers[at], 0)
        # The context's own counts, and as much weight for the shorter context's
        # estimate as the context has distinct followers.
        mixed = (count + kinds * probability) / np.maximum(total + kinds, 1)
        probability = np.where(known, mixed, probability)
    return probability


def text_before(first_window):
    """The text up to the target of the window before first_window."""
    return ids[: starts[first_window - 1] + SEQUENCE_LENGTH + 1]


# Choose n on the training sequences' last 10%, counting only the text before them.
n_fit = int(n_train * (1 - VALIDATION))
validation_loss = {
    order: -np.mean(
        np.log(
            ngram_probabilities(
                ngram_counts(text_before(n_fit), order),
                X_train[n_fit:],
                Y_train[n_fit:, -1],
            )
        )
    )
    for order in range(1, 9)
}
NGRAM_ORDER = min(validation_loss, key=validation_loss.get)
tables = ngram_counts(text_before(split), NGRAM_ORDER)
ngram_test_loss = float(
    -np.mean(np.log(ngram_probabilities(tables, X_test, Y_test[:, -1])))
)
every_next = np.stack(
    [
        ngram_probabilities(tables, X_test, np.full(n_test, character))
        for character in range(vocabulary_size)
    ],
    axis=1,
)
ngram_accuracy = float(np.mean(every_next.argmax(axis=1) == Y_test[:, -1]))
ngram_bits_per_character = ngram_test_loss / math.log(2)
print(
    f"{NGRAM_ORDER}-gram baseline: accuracy {ngram_accuracy:.4f}, "
    f"cross-entropy {ngram_test_loss:.4f} nats ({ngram_bits_per_character:.3f} bits) "
    "per character"
)


# %% attention
class CausalSelfAttention(layers.Layer):
    """Multi-head self-attention in which position t only sees positions 0..t."""

    def __init__(self, width, heads, **kwargs):
        super().__init__(**kwargs)
        self.heads, self.head_width = heads, width // heads
        self.query_key_value = layers.Dense(3 * width)  # all three projections at once
        self.combine = layers.Dense(width)

    def split_heads(self, x):
        # (batch, length, width) -> (batch, heads, length, head_width)
        x = ops.reshape(x, (ops.shape(x)[0], -1, self.heads, self.head_width))
        return ops.transpose(x, (0, 2, 1, 3))

    def call(self, x, return_weights=False):
        query, key, value = ops.split(self.query_key_value(x), 3, axis=-1)
        query, key, value = (self.split_heads(t) for t in (query, key, value))
        # How well each query matches each key, scaled so the softmax stays soft.
        scores = ops.matmul(query, ops.transpose(key, (0, 1, 3, 2)))
        scores = scores / math.sqrt(self.head_width)
        # The causal mask: a large negative score above the diagonal, so that after the
        # softmax a position gives no weight to the positions after it.
        length = ops.shape(x)[1]
        future = ops.triu(ops.ones((length, length)), k=1)
        weights = ops.softmax(scores - 1e9 * future, axis=-1)
        # Each position's new vector: the values, averaged with its weights; the heads'
        # results side by side.
        mixed = ops.transpose(ops.matmul(weights, value), (0, 2, 1, 3))
        mixed = ops.reshape(mixed, (ops.shape(x)[0], -1, self.heads * self.head_width))
        output = self.combine(mixed)
        return (output, weights) if return_weights else output


class TransformerBlock(layers.Layer):
    """Attention, then a small feed-forward network; each adds to its input."""

    def __init__(self, width, heads, hidden, **kwargs):
        super().__init__(**kwargs)
        self.norm_1, self.norm_2 = (
            layers.LayerNormalization(),
            layers.LayerNormalization(),
        )
        self.attention = CausalSelfAttention(width, heads)
        self.feed_forward = keras.Sequential(
            [layers.Dense(hidden, activation="relu"), layers.Dense(width)]
        )

    def call(self, x):
        x = x + self.attention(self.norm_1(x))
        return x + self.feed_forward(self.norm_2(x))


class TokenAndPosition(layers.Layer):
    """A character's vector plus a learned vector for its position: attention itself
    does not know the order of its inputs."""

    def __init__(self, vocabulary_size, max_length, width, **kwargs):
        super().__init__(**kwargs)
        self.tokens = layers.Embedding(vocabulary_size, width)
        self.positions = layers.Embedding(max_length, width)

    def call(self, ids):
        return self.tokens(ids) + self.positions(ops.arange(ops.shape(ids)[1]))


# %% model
WIDTH, HEADS, BLOCKS, HIDDEN = 64, 4, 2, 192


def build_transformer(name, **compile_arguments):
    inputs = keras.Input(shape=(None,), dtype="int32")
    x = TokenAndPosition(vocabulary_size, SEQUENCE_LENGTH, WIDTH)(inputs)
    for _ in range(BLOCKS):
        x = TransformerBlock(WIDTH, HEADS, HIDDEN)(x)
    x = layers.LayerNormalization()(x)
    outputs = layers.Dense(vocabulary_size, activation="softmax")(x)
    transformer = keras.Model(inputs, outputs, name=name)
    transformer.compile(
        optimizer="adam", loss="sparse_categorical_crossentropy", **compile_arguments
    )
    return transformer


model = build_transformer("char_transformer", metrics=["accuracy"])
transformer_parameters = model.count_params()

# The LSTM post's model, built but not trained here, to compare sizes.
lstm = keras.Sequential(
    [
        keras.Input(shape=(SEQUENCE_LENGTH,), dtype="int32"),
        layers.Embedding(vocabulary_size, 32),
        layers.LSTM(128),
        layers.Dense(vocabulary_size, activation="softmax"),
    ]
)
lstm_parameters = lstm.count_params()
print(f"Transformer: {transformer_parameters:,} parameters; LSTM: {lstm_parameters:,}")

# %% train
# The LSTM post trains 10 epochs of 256 sequences a batch; the Transformer gets 6
# epochs of the same batches: 6 updates for every 10 of the LSTM's.
EPOCHS, BATCH_SIZE = 6, 256
model.fit(
    X_train, Y_train, epochs=EPOCHS, batch_size=BATCH_SIZE, validation_split=VALIDATION
)
last_targets = Y_test[:, -1]


def score_last_position(transformer):
    """Loss and accuracy on the LSTM's task: the character after all 40 of a window."""
    predicted = transformer.predict(X_test, batch_size=BATCH_SIZE, verbose=0)[:, -1]
    loss = -np.mean(np.log(predicted[np.arange(n_test), last_targets] + 1e-9))
    return float(loss), float(np.mean(predicted.argmax(axis=1) == last_targets))


transformer_test_loss, transformer_test_accuracy = score_last_position(model)
transformer_bits_per_character = transformer_test_loss / math.log(2)
print(f"Test loss (40th position): {transformer_test_loss:.4f}")
print(f"Test accuracy (40th position): {transformer_test_accuracy:.4f}")

# %% control
# The control run: the same model, data and training, but the loss counts the last
# position only (sample weight 0 at the other 39), the one question the LSTM gets. What
# separates it from the model above is the density of the training signal alone.
last_only = np.zeros(Y_train.shape, dtype="float32")
last_only[:, -1] = 1.0
control = build_transformer("last_position_transformer", weighted_metrics=["accuracy"])
control.fit(
    X_train,
    Y_train,
    sample_weight=last_only,
    epochs=EPOCHS,
    batch_size=BATCH_SIZE,
    validation_split=VALIDATION,
)
control_test_loss, control_test_accuracy = score_last_position(control)
print(f"Control, last position only: test loss {control_test_loss:.4f}, ", end="")
print(f"accuracy {control_test_accuracy:.4f}")


# %% generate
def generate(prompt, length=300, temperature=0.5, seed=0):
    """Sample one character at a time, as in the LSTM post, with the same settings."""
    rng = np.random.default_rng(seed)
    generated = list(prompt)
    for _ in range(length):
        window = [char_to_id[c] for c in generated[-SEQUENCE_LENGTH:]]
        output = model.predict_on_batch(np.array([window]))  # the compiled model
        probabilities = output[0, -1].astype("float64")
        logits = np.log(probabilities + 1e-9) / temperature
        probabilities = np.exp(logits - logits.max())
        probabilities /= probabilities.sum()
        generated.append(vocabulary[rng.choice(vocabulary_size, p=probabilities)])
    return "".join(generated)


PROMPT = "ROMEO:\nWhat light through yonder window"
sample = generate(PROMPT)
print(sample)
# How many of the sample's words are real: they occur somewhere in the whole corpus.
corpus_words = set(re.findall(r"[a-z']+", corpus.lower()))
sample_words = re.findall(r"[a-z']+", sample[len(PROMPT) :].lower())
sample_real_words = sum(word in corpus_words for word in sample_words)
n_sample_words = len(sample_words)
print(f"{sample_real_words} of its {n_sample_words} words occur in the corpus.")

# %% attention-weights
# Where each position of the last block looks, for one line of the test text.
line = text[-SEQUENCE_LENGTH:]
block = model.layers[1 + BLOCKS]  # the last TransformerBlock
hidden = model.layers[1](np.array([[char_to_id[c] for c in line]]))
for earlier in model.layers[2 : 1 + BLOCKS]:
    hidden = earlier(hidden)
_, weights = block.attention(block.norm_1(hidden), return_weights=True)
weights = keras.ops.convert_to_numpy(weights)[0]  # (heads, 40, 40)

labels = [repr(c)[1:-1] for c in line]  # a newline shows as \n
fig, axes = plt.subplots(2, HEADS // 2, figsize=(8, 8.6), layout="constrained")
# A log colour scale: most weights are small, and a linear one would show them all
# alike.
# The masked upper triangle (weight 0: the future) stays blank.
future = np.triu(np.ones((SEQUENCE_LENGTH, SEQUENCE_LENGTH), dtype=bool), k=1)
for head, ax in enumerate(axes.flat):
    image = ax.imshow(
        np.ma.masked_where(future, weights[head]),
        cmap="viridis",
        norm=LogNorm(vmin=1e-3, vmax=1),
    )
    ax.set_title(f"head {head + 1}", fontsize=10)
    ax.set_xticks(range(SEQUENCE_LENGTH), labels, fontsize=6, family="monospace")
    ax.set_yticks(range(SEQUENCE_LENGTH), labels, fontsize=6, family="monospace")
    ax.tick_params(length=0)
fig.colorbar(image, ax=axes, shrink=0.5, label="attention weight (log scale)")
fig.supxlabel("the character a position looks at", fontsize=10)
fig.supylabel("the position, predicting the character after it", fontsize=10)
fig.suptitle("Attention weights of the last block (each row sums to 1)")
plt.show()
