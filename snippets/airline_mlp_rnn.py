# ---
# data:
#   - file: datasets/airline-passengers.csv
#     origin: https://raw.githubusercontent.com/jbrownlee/Datasets/master/airline-passengers.csv
#     sha256: 8cb51be753a718d9be5d76d7e238cc224792754676adc21faa59e954b0201621
# timeout: 360  # up to 2,000 short epochs per network: about 2 minutes on 1 CPU core
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
    file_hash="8cb51be753a718d9be5d76d7e238cc224792754676adc21faa59e954b0201621",
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

# Both networks see the same 13 months: a year, plus the month before it, which is what
# the seasonal forecast below needs too.
WINDOW = 13
x = np.stack([series[i : i + WINDOW] for i in range(n_months - WINDOW)])
y = series[WINDOW:]
x_train, y_train, x_test, y_test = (
    x[:-TEST_MONTHS],
    y[:-TEST_MONTHS],
    x[-TEST_MONTHS:],
    y[-TEST_MONTHS:],
)


def in_passengers(mae):
    """A mean absolute error of the scaled series in passengers per month."""
    return float(mae) * scale * 1000


# Forecasts to beat, on the same test months:
# naive: next month equals this month;
# seasonal: next month equals the same month last year, moved by the change since then;
# linear autoregression, AR(13): next month as a weighted sum of the same 13 months plus
# a constant, the 14 numbers fitted by least squares on the training windows;
# the same on log passengers, where the yearly swing grows with the traffic and becomes
# additive: a classic trick for this series.
naive_mae_passengers = in_passengers(np.mean(np.abs(x_test[:, -1] - y_test)))
seasonal = x_test[:, -12] + (x_test[:, -1] - x_test[:, 0])
seasonal_mae_passengers = in_passengers(np.mean(np.abs(seasonal - y_test)))


def least_squares_forecast(train_windows, train_targets, test_windows):
    """Fit one weight per month and a constant by least squares; forecast the test."""

    def design(windows):
        return np.column_stack([windows, np.ones(len(windows))])

    weights, *_ = np.linalg.lstsq(design(train_windows), train_targets, rcond=None)
    return design(test_windows) @ weights


linear = least_squares_forecast(x_train, y_train, x_test)
linear_mae_passengers = in_passengers(np.mean(np.abs(linear - y_test)))
log_x, log_y = np.log(x), np.log(y)
log_linear = np.exp(
    least_squares_forecast(
        log_x[:-TEST_MONTHS], log_y[:-TEST_MONTHS], log_x[-TEST_MONTHS:]
    )
)
log_linear_mae_passengers = in_passengers(np.mean(np.abs(log_linear - y_test)))
# The test years are busier than any training month: every model must extrapolate.
test_peak_ratio = float(y_test.max() / y_train.max())
print(f"Naive forecast MAE:      {naive_mae_passengers:,.0f} passengers per month")
print(f"Seasonal forecast MAE:   {seasonal_mae_passengers:,.0f} passengers per month")
print(f"AR(13) MAE:              {linear_mae_passengers:,.0f} passengers per month")
print(f"AR(13) on the log MAE:   {log_linear_mae_passengers:,.0f} passengers per month")
print(f"Test peak / training peak: {test_peak_ratio:.2f}")

# Both networks train for at most EPOCHS epochs and keep the weights of the epoch with
# the lowest validation loss (the last VALIDATION share of the training months).
EPOCHS, PATIENCE, VALIDATION = 2000, 50, 0.15
LEARNING_RATE = 0.003


def train(model, inputs):
    model.compile(
        optimizer=keras.optimizers.Adam(LEARNING_RATE),
        loss="mean_squared_error",
        metrics=["mae"],
    )
    stopping = keras.callbacks.EarlyStopping(
        patience=PATIENCE, restore_best_weights=True
    )
    model.fit(
        inputs,
        y_train,
        epochs=EPOCHS,
        batch_size=32,
        validation_split=VALIDATION,
        callbacks=[stopping],
        verbose=0,
    )
    return stopping.best_epoch + 1


# %% mlp
# The multilayer perceptron sees the 13 months as 13 input features, in no order.
mlp = keras.Sequential(
    [
        keras.Input(shape=(WINDOW,)),
        # each Dense layer applies its own activation
        layers.Dense(16, activation="relu"),
        layers.Dense(16, activation="relu"),
        layers.Dense(1),  # a linear output: this is regression, not classification
    ],
    name="mlp",
)
# The loss is the mean squared error; we also track the easier-to-read absolute error.
mlp_best_epoch = train(mlp, x_train)
mlp_test_mse, mlp_test_mae = mlp.evaluate(x_test, y_test, verbose=0)
mlp_mae_passengers = in_passengers(mlp_test_mae)
mlp_parameters = mlp.count_params()
print(f"MLP test MAE: {mlp_mae_passengers:,.0f} passengers per month")

# %% rnn
# The recurrent network reads the same 13 months in order, one month per time step. Its
# 21 units give it about as many parameters as the MLP (505 against 513).
rnn = keras.Sequential(
    [
        keras.Input(shape=(WINDOW, 1)),
        # keras.layers.RNN runs a *cell* over the time steps (SimpleRNNCell: the basic).
        layers.RNN(layers.SimpleRNNCell(21)),
        layers.Dense(1),
    ],
    name="rnn",
)
# The RNN's input: (samples, 13 time steps, 1 feature).
rnn_best_epoch = train(rnn, x_train[..., np.newaxis])
rnn_test_mse, rnn_test_mae = rnn.evaluate(x_test[..., np.newaxis], y_test, verbose=0)
rnn_mae_passengers = in_passengers(rnn_test_mae)
rnn_parameters = rnn.count_params()
print(f"RNN test MAE: {rnn_mae_passengers:,.0f} passengers per month")

# %% forecasts
test_months = months[-TEST_MONTHS:]
plt.figure(figsize=(8, 3.5))
plt.plot(test_months, passengers[-TEST_MONTHS:], "k.-", label="actual")
plt.plot(test_months, log_linear * scale, ":", color="gray", label="AR(13) on the log")
plt.plot(test_months, mlp.predict(x_test, verbose=0) * scale, label="MLP")
plt.plot(
    test_months, rnn.predict(x_test[..., np.newaxis], verbose=0) * scale, label="RNN"
)
plt.xticks(test_months[::3], rotation=45)
plt.ylabel("passengers (thousands)")
plt.title("One-month-ahead forecasts on the test years")
plt.legend()
plt.tight_layout()
plt.show()
