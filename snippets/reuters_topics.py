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
(X_train, y_train), (X_test, y_test) = keras.datasets.reuters.load_data(
    num_words=VOCABULARY
)
n_topics = int(max(y_train.max(), y_test.max())) + 1
n_train, n_test = len(X_train), len(X_test)
print(f"{n_train:,} training and {n_test:,} test newswires, {n_topics} topics")
print("lengths vary:", [len(article) for article in X_train[:5]])

# Articles have different lengths: pad (or cut) every one to LENGTH word ids.
X_train = keras.utils.pad_sequences(X_train, maxlen=LENGTH)
X_test = keras.utils.pad_sequences(X_test, maxlen=LENGTH)

# Define the model architecture
model = keras.Sequential(
    [
        keras.Input(shape=(LENGTH,), dtype="int32"),
        # Embedding: each word id becomes a learned vector of 64 numbers
        layers.Embedding(VOCABULARY, 64),
        # Average the word vectors of an article into one vector
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
model.fit(X_train, y_train, epochs=15, batch_size=64, validation_split=0.1)
topics_test_loss, topics_test_accuracy = model.evaluate(X_test, y_test, verbose=0)
majority_accuracy = float(np.mean(y_test == np.bincount(y_train).argmax()))
print(f"Test accuracy: {topics_test_accuracy:.4f}")
print(f"Always guessing the most common topic: {majority_accuracy:.4f}")
