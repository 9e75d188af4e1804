"""Griffe extension for the docs build: kerax docstrings carry their runnable
examples as doctest lines (`>>> ...` followed by the expected output). Markdown
would reflow them into a paragraph (and read `[0.5, 0.5]` as a link), so each
run of doctest lines is fenced as a Python code block before rendering."""
import griffe


def fence_doctests(text):
    r"""Wrap each block that starts at a `>>>` line and runs to the next blank line (or
    code fence) in a ```python fence, keeping the block's indentation.

    >>> fence_doctests("Doubles.\n\n>>> 2 * 2\n4").splitlines()
    ['Doubles.', '', '```python', '>>> 2 * 2', '4', '```']
    """
    out, lines, i = [], text.splitlines(), 0
    in_fence = False
    while i < len(lines):
        line = lines[i]
        stripped = line.lstrip()
        if stripped.startswith("```"):
            in_fence = not in_fence
        if in_fence or not (stripped == ">>>" or stripped.startswith(">>> ")):
            out.append(line)
            i += 1
            continue
        indent = line[: len(line) - len(stripped)]
        out.append(f"{indent}```python")
        while i < len(lines) and lines[i].strip() and not lines[i].lstrip().startswith("```"):
            out.append(lines[i])
            i += 1
        out.append(f"{indent}```")
    return "\n".join(out)


class DoctestFences(griffe.Extension):
    """Fence doctest examples in every docstring griffe loads."""

    def on_instance(self, *, obj, **kwargs):
        if obj.docstring is not None and ">>>" in obj.docstring.value:
            obj.docstring.value = fence_doctests(obj.docstring.value)
