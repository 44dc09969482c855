"""How the model card checks a completion and sizes its budget: the final answer is the N of the
last "So ... = N." sentence, and a level's completions may take its longest reference trace times
LIMIT_SLACK plus LIMIT_EXTRA new tokens. measure.py (the card) and the RL testbed's reward both use
these, so that they cannot disagree."""
import re

LIMIT_SLACK, LIMIT_EXTRA = 1.1, 8
FINAL_ANSWER = re.compile(r"So [^=]*= (-?\d+)\.")  # "So 478 + 356 = 834." (the trace's "so" is lower case)


def final_answer(completion):
    """The N of the completion's last "So ... = N." sentence, or None."""
    found = FINAL_ANSWER.findall(completion)
    return found[-1] if found else None
