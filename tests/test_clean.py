"""Output cleaning: what a terminal would finally show, minus TensorFlow's start-up noise and
the wall-clock timings of Keras progress bars, in time linear in the text's length."""

import time

import pytest

from dlexec.capture.clean import terminal_text, truncate, without_timings

# What Keras' Progbar writes in a kernel: an update, backspaces over it, "\r", the next one.
BOLD, GREEN, GREY, RESET = "\x1b[1m", "\x1b[32m", "\x1b[37m", "\x1b[0m"
FIRST_UPDATE = (
    f"{BOLD}1/4{RESET} {GREEN}━━━━━{RESET}{GREY}━━━━━━━━━━━━━━━{RESET} {BOLD}0s{RESET} - loss: 0.9"
)
KERAS_EPOCH = (
    "Epoch 1/2\n"
    + FIRST_UPDATE
    + "\x08" * len(FIRST_UPDATE)
    + "\r"
    + f"{BOLD}4/4{RESET} {GREEN}━━━━━━━━━━━━━━━━━━━━{RESET} {BOLD}1s{RESET} 5ms/step - loss: 0.7\n"
)


def test_progress_bar_collapses_to_its_final_state_without_timings():
    assert terminal_text(KERAS_EPOCH) == "Epoch 1/2\n4/4 ━━━━━━━━━━━━━━━━━━━━ - loss: 0.7\n"


def test_carriage_returns_keep_the_last_update_per_line():
    assert terminal_text("10%\r50%\r100%\ndone\n") == "100%\ndone\n"


def test_backspaces_erase_the_previous_character():
    assert terminal_text("abc\x08\x08XY\n") == "aXY\n"


def test_ansi_codes_are_removed():
    assert terminal_text("\x1b[38;5;34m149\x1b[0m (600.00 B)\n") == "149 (600.00 B)\n"


def test_tensorflow_startup_noise_is_filtered_and_real_lines_kept():
    noise = (
        "WARNING: All log messages before absl::InitializeLog() is called are written to STDERR\n"
        "I0000 00:00:1795253829.695968    1826 port.cc:153] oneDNN custom operations are on.\n"
        "E0000 00:00:1795253832.518037    1826 cuda_platform.cc:52] failed call to cuInit\n"
        "2024-01-01 10:00:00.123456: I tensorflow/core/platform/cpu_feature_guard.cc:182] This\n"
        "To enable the following instructions: AVX2 FMA, in other operations, "
        "rebuild TensorFlow with the appropriate compiler flags.\n"
        "UserWarning: a real warning stays\n"
    )
    assert terminal_text(noise) == "UserWarning: a real warning stays\n"


def test_truncation_keeps_head_and_tail_and_says_how_much_was_cut():
    text = "".join(f"line {i}\n" for i in range(1000))
    short = truncate(text, head=2, tail=2)
    assert short.splitlines() == [
        "line 0",
        "line 1",
        "[... 996 lines (8.7 KB) cut from this output ...]",
        "line 998",
        "line 999",
    ]


def test_short_text_is_not_truncated():
    assert truncate("a\nb\n") == "a\nb\n"


def test_carriage_return_before_newline_and_at_the_end_keeps_the_text():
    assert terminal_text("a\r\nb\r") == "a\nb"
    assert terminal_text("10%\r50%\r\r\n") == "50%\n"


def test_backspaces_do_not_cross_lines_and_vanish_at_a_line_start():
    assert terminal_text("ab\n\x08\x08c\n") == "ab\nc\n"
    assert terminal_text("a" * 5 + "b\x08\x08" * 3 + "\n") == "aa\n"


def test_unterminated_escapes_and_control_characters_are_dropped():
    assert terminal_text("\x1b[\x1b[31mred\x1b[0m\x1b") == "red"
    assert terminal_text("\x1b]8;;https://x.org\x07link\x1b]8;;\x07 \x00\x07bell\tok\n") == (
        "link bell\tok\n"
    )


# Two runs of the same training print different timings; the stored text must not differ.
@pytest.mark.parametrize(
    ("line", "expected"),
    [
        (
            "1875/1875 ━━━━━━━━━━━━━━━━━━━━ 3s 2ms/step - accuracy: 0.9 - loss: 0.3",
            "1875/1875 ━━━━━━━━━━━━━━━━━━━━ - accuracy: 0.9 - loss: 0.3",
        ),
        ("313/313 ━━━━━━━━━━━━━━━━━━━━ 0s 1ms/step", "313/313 ━━━━━━━━━━━━━━━━━━━━"),
        ("313/313 ━━━━━━━━━━━━━━━━━━━━ 0s 12us/step", "313/313 ━━━━━━━━━━━━━━━━━━━━"),
        ("1/1 ━━━━━━━━━━━━━━━━━━━━ 2s 2s/step", "1/1 ━━━━━━━━━━━━━━━━━━━━"),
        ("1/1 ━━━━━━━━━━━━━━━━━━━━ 1s/step", "1/1 ━━━━━━━━━━━━━━━━━━━━"),
        (
            "127/127 ━━━━━━━━━━━━━━━━━━━━ 10s 60ms/step - accuracy: 0.3810 - val_loss: 2.3852",
            "127/127 ━━━━━━━━━━━━━━━━━━━━ - accuracy: 0.3810 - val_loss: 2.3852",
        ),
        # An interrupted bar shows an ETA; Keras pads a shorter update with spaces.
        (
            "  5/113 ━━━━━━━━━━━━━━━━━━━━ 3s 20ms/step - loss: 0.3   ",
            "  5/113 ━━━━━━━━━━━━━━━━━━━━ - loss: 0.3",
        ),
        ("  5/113 ━━━━━━━━━━━━━━━━━━━━ 1:02 20ms/step", "  5/113 ━━━━━━━━━━━━━━━━━━━━"),
        ("  5/113 ━━━━━━━━━━━━━━━━━━━━ 1:02:03 2s/step", "  5/113 ━━━━━━━━━━━━━━━━━━━━"),
        ("     12/Unknown 3s 5ms/step - loss: 0.2", "     12/Unknown - loss: 0.2"),
        # verbose=2, and the Keras 2 formats.
        (
            "113/113 - 1s - 12ms/step - accuracy: 0.9 - loss: 0.1",
            "113/113 - accuracy: 0.9 - loss: 0.1",
        ),
        (
            "1875/1875 [==============================] - 3s 2ms/step - loss: 0.3",
            "1875/1875 [==============================] - loss: 0.3",
        ),
        (
            "  32/1875 [>.............................] - ETA: 3s - loss: 0.3",
            "  32/1875 [>.............................] - loss: 0.3",
        ),
        (
            "  32/1875 [>.............................] - ETA: 1:02 - loss: 0.3",
            "  32/1875 [>.............................] - loss: 0.3",
        ),
        ("1875/1875 - 3s - loss: 0.2967 - 3s/epoch - 2ms/step", "1875/1875 - loss: 0.2967"),
    ],
)
def test_keras_progress_timings_are_removed(line, expected):
    assert terminal_text(line + "\n") == expected + "\n"


@pytest.mark.parametrize(
    "line",
    [
        "it took 3s",
        "3/4 of the runs took 3s 2ms/step",
        "3/4 - 3s",
        "1/2 3s 5ms/step",
        "Epoch 1/2",
        "Total params: 1,024 (4.00 KB)",
        "┏━━━━━━━━━━━━━━━━┳━━━━━━━━━━━━━━━━┓",
        "10 ━━━ 3s 2ms/step",
    ],
)
def test_prose_and_tables_keep_their_timings(line):
    assert without_timings(line) == line
    assert terminal_text(line + "\n") == line + "\n"


def test_cleaning_two_runs_gives_identical_text():
    def run(seconds: int, milliseconds: int, eta: str) -> str:
        update = f"{BOLD}2/4{RESET} {GREEN}━━━━━━━━━━{RESET}{GREY}━━━━━━━━━━{RESET} {BOLD}{eta}{RESET} {milliseconds}ms/step - loss: 0.8"
        final = f"{BOLD}4/4{RESET} {GREEN}━━━━━━━━━━━━━━━━━━━━{RESET} {BOLD}{seconds}s{RESET} {milliseconds}ms/step - loss: 0.7"
        return "Epoch 1/1\n" + update + "\x08" * 40 + "\r" + final + " " * seconds + "\n"

    assert terminal_text(run(1, 5, "3s")) == terminal_text(run(12, 250, "1:02"))


# One line of megabytes, or a flood of carriage returns, backspaces or unterminated escapes:
# cleaning stays linear (the old regexes took minutes on a few hundred kilobytes).
@pytest.mark.parametrize(
    "text",
    [
        "x" * 2_000_000,
        "\r" * 1_000_000,
        "ab\r" * 700_000,
        "\x08" * 1_000_000,
        "a" * 1_000_000 + "b\x08\x08" * 500_000,
        "\x1b[" * 500_000,
        "\x1b[1" * 500_000,
        "\x1b]0;" + "t" * 2_000_000,
        "7" * 2_000_000,
        "1/1" + " ━" * 1_000_000,
        "1/2 ━" + " - 1s" * 400_000,
        "To enable the following instructions:" + " " * 2_000_000,
    ],
    ids=[
        "2MB-line",
        "1M-cr",
        "cr-text",
        "1M-bs",
        "bs-over-long-text",
        "500k-unterminated-csi",
        "500k-csi-params",
        "unterminated-osc",
        "digits",
        "bar-like",
        "timing-like",
        "tf-noise-like",
    ],
)
def test_cleaning_is_linear_on_hostile_lines(text):
    # Linear cleaning takes well under a second here; a quadratic one would take hours on
    # these megabyte lines. The bound is loose so that a busy machine does not fail it.
    start = time.process_time()
    terminal_text(text)
    assert time.process_time() - start < 30.0
