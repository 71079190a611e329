"""`python -m bot.cli`: the `paperdigest` command."""

from bot.cli import app

if __name__ == "__main__":
    app()
