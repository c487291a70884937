"""Render the reStructuredText markup found in sciml's docstrings.

The docstrings are Google style, but some of them use three pieces of reST:

- cross-reference roles, ``:func:`fit```, ``:class:`FNO```, ``:meth:`...```, ...;
- inline math, ``:math:`R```;
- display math, a ``.. math::`` directive whose body follows on the same line or on
  the indented lines below it;
- a paragraph ending in ``::`` before an indented literal block.

Python-Markdown would print these as they are. This hook adds a Markdown extension that
turns the roles into cross-references (resolved against the documented object's scope,
and plain code when the target is not part of this site), the math into the markup of
``pymdownx.arithmatex`` in generic mode, which MathJax typesets, and ``::`` into ``:``
(the indented block is a code block in Markdown already).
"""

from __future__ import annotations

import html
import re
import xml.etree.ElementTree as etree

from markdown import Extension, Markdown
from markdown.inlinepatterns import InlineProcessor
from markdown.preprocessors import Preprocessor
from markdown.util import AtomicString
from mkdocs.plugins import event_priority

_ROLE = r":(func|class|meth|attr|mod|data|obj|exc|const|math):`([^`]+)`"
_DIRECTIVE = re.compile(r"^(?P<indent>\s*)\.\. math::\s*(?P<first>.*)$")
_FENCE = re.compile(r"^\s*(```|~~~)")


class _RoleProcessor(InlineProcessor):
    """``:role:`target``` -> an optional cross-reference, or inline math."""

    def handleMatch(self, m, data):  # noqa: N802 (the Markdown API's name)
        role, text = m.group(1), m.group(2).strip()
        if role == "math":
            span = etree.Element("span", {"class": "arithmatex"})
            span.text = AtomicString(f"\\({text}\\)")
            return span, m.start(0), m.end(0)
        title = text[1:] if text.startswith(("~", "!")) else text
        target = title.removesuffix("()")
        if text.startswith("~"):
            title = title.rsplit(".", 1)[-1]
        patterns = self.md.inlinePatterns
        hook = (
            getattr(patterns["mkdocs-autorefs"], "hook", None)
            if "mkdocs-autorefs" in patterns
            else None
        )
        if hook is not None:
            target = hook.expand_identifier(target)
            try:  # a re-exported name links to the object it names
                target = hook.current_object.modules_collection[target].final_target.path
            except Exception:  # noqa: BLE001 (not an alias, or not loaded: keep the name)
                pass
        ref = etree.Element("autoref", {"identifier": target, "optional": ""})
        code = etree.SubElement(ref, "code")
        code.text = AtomicString(title)
        return ref, m.start(0), m.end(0)


def _literal_follows(lines, i):
    """Whether an indented block follows line ``i`` after blank lines, as reST wants."""
    indent = len(lines[i]) - len(lines[i].lstrip())
    j = i + 1
    while j < len(lines) and not lines[j].strip():
        j += 1
    return j > i + 1 and j < len(lines) and len(lines[j]) - len(lines[j].lstrip()) > indent


class _MathBlockProcessor(Preprocessor):
    """``.. math::`` blocks -> display math, kept away from the Markdown parser; ``::`` -> ``:``."""

    def run(self, lines):
        out, i, fenced = [], 0, False
        while i < len(lines):
            line = lines[i]
            if _FENCE.match(line):
                fenced = not fenced
            match = None if fenced else _DIRECTIVE.match(line)
            if match is None:
                if not fenced and line.endswith("::") and _literal_follows(lines, i):
                    line = line[:-1]  # "Example::" introduces the indented block below
                out.append(line)
                i += 1
                continue
            indent = len(match["indent"].expandtabs())
            body = [match["first"]] if match["first"].strip() else []
            i += 1
            while i < len(lines):
                nxt = lines[i]
                if nxt.strip() and len(nxt) - len(nxt.lstrip()) <= indent:
                    break
                body.append(nxt.strip())
                i += 1
            tex = "\n".join(body).strip()
            stash = self.md.htmlStash.store(
                f'<div class="arithmatex">\\[\n{html.escape(tex, quote=False)}\n\\]</div>'
            )
            out.extend(["", match["indent"] + stash, ""])
        return out


class RstMarkupExtension(Extension):
    def extendMarkdown(self, md: Markdown) -> None:  # noqa: N802 (the Markdown API's name)
        # Before the backtick pattern (190), which would otherwise take the `target`.
        md.inlinePatterns.register(_RoleProcessor(_ROLE, md), "sciml-rst-roles", 200)
        # After the normalisation of whitespace (30), before the HTML block parser (20).
        md.preprocessors.register(_MathBlockProcessor(md), "sciml-rst-math", 25)


@event_priority(100)  # before mkdocstrings copies the list of extensions
def on_config(config):
    config.markdown_extensions.append(RstMarkupExtension())
    return config
