"""Output cleaning: what a terminal would finally show, minus TensorFlow's start-up noise."""

from dlexec.clean import terminal_text, truncate

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


def test_progress_bar_collapses_to_its_final_state():
    assert (
        terminal_text(KERAS_EPOCH)
        == "Epoch 1/2\n4/4 ━━━━━━━━━━━━━━━━━━━━ 1s 5ms/step - loss: 0.7\n"
    )


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
