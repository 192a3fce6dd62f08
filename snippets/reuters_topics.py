# ---
# data:
#   - file: datasets/reuters.npz
#     origin: https://storage.googleapis.com/tensorflow/tf-keras-datasets/reuters.npz
#     sha256: d6586e694ee56d7a4e65172e12b3e987c03096cb01eab99753921ef915959916
# ---

# %% reuters-topics
import keras
import numpy as np
from keras import layers

keras.utils.set_random_seed(6)

# Load the Reuters newswires: word-id sequences, each labelled with one of 46 topics.
VOCABULARY, LENGTH = 10_000, 200
(articles_train, y_train), (articles_test, y_test) = keras.datasets.reuters.load_data(
    num_words=VOCABULARY
)
n_topics = int(max(y_train.max(), y_test.max())) + 1
n_train, n_test = len(articles_train), len(articles_test)
lengths = np.array([len(article) for article in articles_train])
median_length = int(np.median(lengths))
share_longer = float(np.mean(lengths > LENGTH))
print(f"{n_train:,} training and {n_test:,} test newswires, {n_topics} topics")
print(f"median length {median_length} words; {share_longer:.0%} longer than {LENGTH}")

# Articles have different lengths: pad (or cut) every one to LENGTH word ids. Padding
# and cutting at the end keep each article's start, where a newswire puts its topic
# (the default, "pre", would cut the start of long articles).
X_train = keras.utils.pad_sequences(
    articles_train, maxlen=LENGTH, padding="post", truncating="post"
)
X_test = keras.utils.pad_sequences(
    articles_test, maxlen=LENGTH, padding="post", truncating="post"
)

# Define the model architecture
model = keras.Sequential(
    [
        keras.Input(shape=(LENGTH,), dtype="int32"),
        # Embedding: each word id becomes a learned vector of 64 numbers; mask_zero
        # marks the padding (id 0), so that layers after it skip those positions
        layers.Embedding(VOCABULARY, 64, mask_zero=True),
        # Average the word vectors of an article into one vector (padding left out)
        layers.GlobalAveragePooling1D(),
        # Hidden layer: 128 fully connected ReLU units
        layers.Dense(128, activation="relu"),
        layers.Dropout(0.3),
        # Output layer: one probability per topic
        layers.Dense(n_topics, activation="softmax"),
    ],
    name="topic_classifier",
)
model.compile(
    optimizer="adam", loss="sparse_categorical_crossentropy", metrics=["accuracy"]
)
# Both models below keep the epoch with the lowest loss on the same held-out 10%.
EPOCHS, PATIENCE, VALIDATION = 30, 3, 0.1


def stopping():
    return keras.callbacks.EarlyStopping(patience=PATIENCE, restore_best_weights=True)


model.fit(
    X_train,
    y_train,
    epochs=EPOCHS,
    batch_size=64,
    validation_split=VALIDATION,
    callbacks=[stopping()],
)
topics_test_loss, topics_test_accuracy = model.evaluate(X_test, y_test, verbose=0)
majority_accuracy = float(np.mean(y_test == np.bincount(y_train).argmax()))
print(f"Test accuracy: {topics_test_accuracy:.4f}")
print(f"Always guessing the most common topic: {majority_accuracy:.4f}")

# %% bag-of-words
# The classic baseline: a bag of words (1 where the article contains word i, else 0,
# whatever the order or length) and a linear classifier on it, logistic regression.


def multi_hot(articles):
    vectors = np.zeros((len(articles), VOCABULARY), dtype="float32")
    for row, article in enumerate(articles):
        vectors[row, article] = 1.0
    return vectors


linear = keras.Sequential(
    [keras.Input(shape=(VOCABULARY,)), layers.Dense(n_topics, activation="softmax")],
    name="bag_of_words_logistic_regression",
)
linear.compile(
    optimizer="adam", loss="sparse_categorical_crossentropy", metrics=["accuracy"]
)
linear.fit(
    multi_hot(articles_train),
    y_train,
    epochs=EPOCHS,
    batch_size=64,
    validation_split=VALIDATION,
    callbacks=[stopping()],
    verbose=0,
)
linear_test_accuracy = float(
    linear.evaluate(multi_hot(articles_test), y_test, verbose=0)[1]
)
print(f"Bag of words, logistic regression: test accuracy {linear_test_accuracy:.4f}")
