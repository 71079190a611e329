"""Plain words to the command that answers them, by rules: no LLM.

`interpret("what are the top papers today?")` is `Interpretation("top")`. Some phrasings name
things only the store knows (a paper by its title words, an author by their surname, the
categories to add to): `resolve` settles those against the chat's latest digest and criteria.
Settings changes are interpretations with `changes` set: `bot.chat.ask` proposes them, never
runs them unasked.

`questions` holds the rules for questions and the order every rule is tried in (`readings`),
`changes` the rules for settings changes, `words` what the rules share, and `settle` what only
the store knows.
"""

from bot.chat.phrasing.liking import only_paper, this_paper
from bot.chat.phrasing.questions import interpret, readings, title_words
from bot.chat.phrasing.settle import best_title, paper_by_title, resolve
from bot.chat.phrasing.words import ID, Interpretation

__all__ = [
    "ID",
    "Interpretation",
    "best_title",
    "interpret",
    "only_paper",
    "paper_by_title",
    "readings",
    "resolve",
    "this_paper",
    "title_words",
]
