# ---
# data:
#   - file: datasets/reuters.npz
#     origin: https://storage.googleapis.com/tensorflow/tf-keras-datasets/reuters.npz
#     sha256: d6586e694ee56d7a4e65172e12b3e987c03096cb01eab99753921ef915959916
#   - file: datasets/reuters_word_index.json
#     origin: https://storage.googleapis.com/tensorflow/tf-keras-datasets/reuters_word_index.json
#     sha256: 9b56000edc4b34a32e89fd5a23b2605594682c74efcf7d8f4e2a5514b771e633
# resources: {cpus: 1}  # a second math thread made its training no faster (measured)
# timeout: 360           # about 2.5 minutes on one core; room for a slower machine
# ---

# %% load-text
import keras
import numpy as np
from keras import layers

keras.utils.set_random_seed(3)

# The 1,000 most frequent words; rarer words become the "unknown" id 2.
VOCABULARY = 1000
# Windows of 20 words, one every 40 words: they never overlap, and half of the text
# is left out.
WINDOW, STEP = 20, 40
(train_articles, _), (test_articles, _) = keras.datasets.reuters.load_data(
    num_words=VOCABULARY
)
word_index = keras.datasets.reuters.get_word_index()
# Word ids are shifted by 3: ids 0-2 are reserved.
id_to_word = {index + 3: word for word, index in word_index.items()}
id_to_word.update({0: "<pad>", 1: "<start>", 2: "<unk>"})
UNKNOWN = 2


def windows(articles):
    """Windows of WINDOW words, one every STEP words; targets are shifted by one."""
    pieces = [
        a[s : s + WINDOW + 1] for a in articles for s in range(0, len(a) - WINDOW, STEP)
    ]
    pieces = np.array(pieces, dtype="int32")
    return pieces[:, :-1], pieces[:, 1:]


X_train, y_train = windows(train_articles)
X_test, y_test = windows(test_articles)
n_articles = len(train_articles) + len(test_articles)
n_train, n_test = len(X_train), len(X_test)
print(f"{n_articles:,} newswires -> {n_train:,} training and {n_test:,} test windows")
print("input :", " ".join(id_to_word[i] for i in X_train[0][:10]), "...")
print("target:", " ".join(id_to_word[i] for i in y_train[0][:10]), "...")

# Two baselines, on the same test words as the model:
# majority: always the word most frequent in the training targets (it is <unk>);
# bigram: after word w, the word that most often follows w in the training windows.
most_frequent = int(np.bincount(y_train.ravel()).argmax())
majority_accuracy = float((y_test == most_frequent).mean())
following = np.zeros((VOCABULARY, VOCABULARY), dtype="int64")
np.add.at(following, (X_train.ravel(), y_train.ravel()), 1)
bigram_predicted = following.argmax(axis=1)[X_test]
known = y_test != UNKNOWN  # the test words the vocabulary can name
bigram_accuracy = float((bigram_predicted == y_test).mean())
bigram_known_accuracy = float((bigram_predicted == y_test)[known].mean())
print(f"{1 - known.mean():.1%} of the test words are <unk>.")
print(f"Always predicting {id_to_word[most_frequent]!r}: {majority_accuracy:.4f}")
print(
    f"Bigram table: {bigram_accuracy:.4f} ({bigram_known_accuracy:.4f} of known words)"
)

# %% rnn
model = keras.Sequential(
    [
        keras.Input(shape=(None,), dtype="int32"),
        layers.Embedding(VOCABULARY, 64),
        # return_sequences=True: one output per word, so the model predicts the next
        # word at every position of the window, not only after the last one.
        layers.LSTM(64, return_sequences=True),
        layers.Dense(64, activation="relu"),
        layers.Dropout(0.2),
        layers.Dense(VOCABULARY, activation="softmax"),
    ],
    name="next_word_lstm",
)
model.compile(
    optimizer="adam", loss="sparse_categorical_crossentropy", metrics=["accuracy"]
)
EPOCHS = 8
model.fit(X_train, y_train, epochs=EPOCHS, batch_size=128, validation_split=0.1)
rnn_test_loss, rnn_test_accuracy = model.evaluate(X_test, y_test, verbose=0)
rnn_predicted = np.concatenate(
    [
        model.predict(X_test[i : i + 1024], verbose=0).argmax(axis=-1)
        for i in range(0, n_test, 1024)
    ]
)
rnn_known_accuracy = float((rnn_predicted == y_test)[known].mean())
print(
    f"Next-word accuracy on test windows: {rnn_test_accuracy:.4f} "
    f"(loss {rnn_test_loss:.4f}); on known words: {rnn_known_accuracy:.4f}"
)


# %% complete
def complete(words, n_words=12):
    """Greedy completion: append the most probable next *known* word, n_words times."""
    words = list(words)
    for _ in range(n_words):
        probabilities = keras.ops.convert_to_numpy(
            model(np.array([words]), training=False)
        )[0, -1]
        # Never pick <pad>, <start> or <unk> (the most frequent token).
        probabilities[:3] = 0
        words.append(int(probabilities.argmax()))
    return words


for article in test_articles[:3]:
    prompt = list(article[:8])
    completed = complete(prompt)
    print("prompt:   ", " ".join(id_to_word[i] for i in prompt[1:]))
    print("completion:", " ".join(id_to_word[i] for i in completed[len(prompt) :]))
    print()
