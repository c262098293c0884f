"""Training output fit for a log file: the epoch table without colour, no progress bar.

skorch's ``PrintLog`` wraps each best score in ANSI colour codes and its ``ProgressBar`` redraws
a tqdm bar with carriage returns, whatever the output is. In a redirected log (``sk-ctr fit ...
> train.log``, a batch job's output) both leave escape codes and thousands of partial lines.
"""

from __future__ import annotations

from skorch.callbacks import PrintLog


class PlainPrintLog(PrintLog):
    """skorch's :class:`~skorch.callbacks.PrintLog` with no ANSI colour codes.

    The table, its columns and number formats are PrintLog's; a best score is printed like any
    other instead of coloured.
    """

    def format_row(self, row, key, color):
        # PrintLog colours the value of ``key`` when the row flags it as best ("<key>_best");
        # without the flag it formats the value plainly.
        plain = {name: value for name, value in row.items() if name != f"{key}_best"}
        return super().format_row(plain, key, color)


def log_callback_settings(stdout_is_terminal, stderr_is_terminal):
    """``set_params`` arguments of a :class:`~sk_ctr.CTRClassifier` for where its output goes.

    Parameters
    ----------
    stdout_is_terminal : bool
        Whether the epoch table (printed on stdout) is read on a terminal: if not, it is
        printed without colour.
    stderr_is_terminal : bool
        Whether the progress bar (drawn on stderr) is seen on a terminal: if not, there is none.

    Returns
    -------
    dict
        E.g. ``{"callbacks__progress_bar": None, "callbacks__print_log": PlainPrintLog()}``;
        empty on a terminal.
    """
    settings = {}
    if not stderr_is_terminal:
        settings["callbacks__progress_bar"] = None
    if not stdout_is_terminal:
        settings["callbacks__print_log"] = PlainPrintLog()
    return settings
