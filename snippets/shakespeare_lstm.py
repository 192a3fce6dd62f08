# ---
# data:
#   - file: datasets/shakespeare.txt
#     origin: https://storage.googleapis.com/download.tensorflow.org/data/shakespeare.txt
#     sha256: 86c4e6aa9db7c042ec79f339dcb96d42b0075e16b8fc2e86bf0ca57e2dc565ed
# resources: {cpus: 1}  # the LSTM's step-by-step loop gains nothing from a 2nd thread
# timeout: 300           # about two minutes on 1 CPU core; room for a slower machine
# ---

# %% load-text
import math
import re

import keras
import numpy as np
from keras import layers

keras.utils.set_random_seed(42)

path = keras.utils.get_file(
    "shakespeare.txt",
    origin="https://storage.googleapis.com/download.tensorflow.org/data/shakespeare.txt",
)
with open(path, encoding="utf-8") as f:
    corpus = f.read()
corpus_characters = len(corpus)
text = corpus[:200_000]  # the first 200,000 characters keep training short on a CPU

vocabulary = sorted(set(text))
char_to_id = {c: i for i, c in enumerate(vocabulary)}
ids = np.array([char_to_id[c] for c in text], dtype="int32")

# Each sample: 40 characters in, the 41st character out; a new sample every 10.
SEQUENCE_LENGTH, STRIDE = 40, 10
starts = np.arange(0, len(ids) - SEQUENCE_LENGTH, STRIDE)
X = np.stack([ids[s : s + SEQUENCE_LENGTH] for s in starts])
y = ids[starts + SEQUENCE_LENGTH]
split = int(0.9 * len(X))
X_train, y_train, X_test, y_test = X[:split], y[:split], X[split:], y[split:]
vocabulary_size = len(vocabulary)
n_train, n_test = len(X_train), len(X_test)
print(f"{corpus_characters:,} characters in the corpus, {vocabulary_size} distinct")
print(
    f"{n_train:,} training and {n_test:,} test sequences "
    f"of {SEQUENCE_LENGTH} characters"
)

# %% model
model = keras.Sequential(
    [
        keras.Input(shape=(SEQUENCE_LENGTH,), dtype="int32"),
        layers.Embedding(vocabulary_size, 32),
        layers.LSTM(128),
        layers.Dense(vocabulary_size, activation="softmax"),
    ],
    name="char_lstm",
)
model.compile(
    optimizer="adam", loss="sparse_categorical_crossentropy", metrics=["accuracy"]
)
model.summary()

# %% train
EPOCHS, BATCH_SIZE = 10, 256
model.fit(X_train, y_train, epochs=EPOCHS, batch_size=BATCH_SIZE, validation_split=0.1)
lstm_test_loss, lstm_test_accuracy = model.evaluate(X_test, y_test, verbose=0)
# The loss is the cross-entropy in nats (natural log); in bits, it is how many yes/no
# answers the model still needs, on average, to pin down the next character.
lstm_bits_per_character = lstm_test_loss / math.log(2)
print(
    f"Test loss: {lstm_test_loss:.4f} "
    f"({lstm_bits_per_character:.3f} bits per character)"
)
print(f"Test accuracy: {lstm_test_accuracy:.4f}")


# %% generate
def generate(prompt, length=300, temperature=0.5, seed=0):
    """Sample one character at a time from the model's predicted distribution."""
    rng = np.random.default_rng(seed)
    generated = list(prompt)
    for _ in range(length):
        window = [char_to_id[c] for c in generated[-SEQUENCE_LENGTH:]]
        # predict_on_batch runs the compiled model: far quicker than model(...) here.
        output = model.predict_on_batch(np.array([window]))
        probabilities = output[0].astype("float64")
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
sample_the_share = sample_words.count("the") / n_sample_words
print(f"{sample_real_words} of its {n_sample_words} words occur in the corpus.")

# Temperature 0.5 sharpens the distribution towards the likeliest characters; at 1.0 the
# model's own probabilities are sampled as they are.
hot_sample = generate(PROMPT, temperature=1.0)
print(hot_sample)
hot_words = re.findall(r"[a-z']+", hot_sample[len(PROMPT) :].lower())
hot_the_share = hot_words.count("the") / len(hot_words)
print(f'"the" is {sample_the_share:.0%} of the words at temperature 0.5, ', end="")
print(f"{hot_the_share:.0%} at 1.0.")
