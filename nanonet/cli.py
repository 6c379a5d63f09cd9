"""What the command-line fronts share: an argument parser whose errors are one line, and one-line warnings."""
import argparse
import sys
import warnings


class _Defaults(argparse.ArgumentDefaultsHelpFormatter):
    """Adds "(default: X)" to an option's help unless the help names its default itself, or it has none."""

    def _get_help_string(self, action):
        if action.default is None or action.default is False or action.default is argparse.SUPPRESS \
                or "default" in (action.help or ""):
            return action.help
        return super()._get_help_string(action)


class Parser(argparse.ArgumentParser):
    """argparse with each option's default in --help and a bad command line answered in one line, exit 2."""

    def __init__(self, **kwargs):
        super().__init__(formatter_class=_Defaults, **kwargs)

    def error(self, message):
        self.exit(2, f"{self.prog}: {message} (see --help)\n")


def one_line_warnings(prog):
    """Show each warning as `PROG: warning: MESSAGE` on stderr, without the source line."""
    def show(message, category, filename, lineno, file=None, line=None):
        print(f"{prog}: warning: {message}", file=sys.stderr)
    warnings.showwarning = show
