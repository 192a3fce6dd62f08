# ---
# data:
#   - file: datasets/airline-passengers.csv
#     origin: https://raw.githubusercontent.com/jbrownlee/Datasets/master/airline-passengers.csv
#     sha256: 8cb51be753a718d9be5d76d7e238cc224792754676adc21faa59e954b0201621
# ---

# %% load-data
import csv

import keras
import matplotlib.pyplot as plt
import numpy as np
from keras import layers

keras.utils.set_random_seed(2)

path = keras.utils.get_file(
    "airline-passengers.csv",
    origin="https://raw.githubusercontent.com/jbrownlee/Datasets/master/airline-passengers.csv",
)
with open(path, newline="") as f:
    rows = list(csv.DictReader(f))
months = [row["Month"] for row in rows]
passengers = np.array([float(row["Passengers"]) for row in rows], dtype="float32")
n_months = len(passengers)
TEST_MONTHS = 24
scale = passengers[:-TEST_MONTHS].max()  # scale with the training period only
series = passengers / scale
print(
    f"{n_months} months from {months[0]} to {months[-1]}; "
    f"the last {TEST_MONTHS} are the test set"
)


def windows(series, length):
    """Inputs: `length` consecutive months; target: the month after them."""
    x = np.stack([series[i : i + length] for i in range(len(series) - length)])
    return x, series[length:]


# %% mlp
LAGS = 4  # the multilayer perceptron sees the previous 4 months as 4 input features
x, y = windows(series, LAGS)
x_train, y_train, x_test, y_test = (
    x[:-TEST_MONTHS],
    y[:-TEST_MONTHS],
    x[-TEST_MONTHS:],
    y[-TEST_MONTHS:],
)

mlp = keras.Sequential(
    [
        keras.Input(shape=(LAGS,)),
        layers.Dense(
            16, activation="relu"
        ),  # each Dense layer applies its own activation
        layers.Dense(16, activation="relu"),
        layers.Dense(1),  # a linear output: this is regression, not classification
    ],
    name="mlp",
)
# The loss is the mean squared error; we also track the easier-to-read mean absolute error.
mlp.compile(
    optimizer=keras.optimizers.Adam(0.01), loss="mean_squared_error", metrics=["mae"]
)
mlp.fit(x_train, y_train, epochs=200, batch_size=16, validation_split=0.15, verbose=0)
mlp_test_mse, mlp_test_mae = mlp.evaluate(x_test, y_test, verbose=0)
mlp_mae_passengers = mlp_test_mae * scale * 1000
naive_mae_passengers = float(np.mean(np.abs(x_test[:, -1] - y_test))) * scale * 1000
print(f"MLP test MAE: {mlp_mae_passengers:,.0f} passengers per month")
print(f"Naive forecast (same as last month) MAE: {naive_mae_passengers:,.0f}")

# %% rnn
STEPS = 12  # the recurrent network reads a whole year, one month per time step
x, y = windows(series, STEPS)
x = x[..., np.newaxis]  # (samples, 12 time steps, 1 feature)
x_train, y_train, x_test, y_test = (
    x[:-TEST_MONTHS],
    y[:-TEST_MONTHS],
    x[-TEST_MONTHS:],
    y[-TEST_MONTHS:],
)

rnn = keras.Sequential(
    [
        keras.Input(shape=(STEPS, 1)),
        # keras.layers.RNN runs a *cell* over the time steps (SimpleRNNCell: the basic one).
        layers.RNN(layers.SimpleRNNCell(32)),
        layers.Dense(1),
    ],
    name="rnn",
)
rnn.compile(
    optimizer=keras.optimizers.Adam(0.01), loss="mean_squared_error", metrics=["mae"]
)
rnn.fit(x_train, y_train, epochs=200, batch_size=16, validation_split=0.15, verbose=0)
rnn_test_mse, rnn_test_mae = rnn.evaluate(x_test, y_test, verbose=0)
rnn_mae_passengers = rnn_test_mae * scale * 1000
print(f"RNN test MAE: {rnn_mae_passengers:,.0f} passengers per month")

test_months = months[-TEST_MONTHS:]
plt.figure(figsize=(8, 3.5))
plt.plot(test_months, passengers[-TEST_MONTHS:], "k.-", label="actual")
plt.plot(
    test_months,
    mlp.predict(windows(series, LAGS)[0][-TEST_MONTHS:], verbose=0) * scale,
    label="MLP",
)
plt.plot(test_months, rnn.predict(x_test, verbose=0) * scale, label="RNN")
plt.xticks(test_months[::3], rotation=45)
plt.ylabel("passengers (thousands)")
plt.title("One-month-ahead forecasts on the test years")
plt.legend()
plt.tight_layout()
plt.show()
