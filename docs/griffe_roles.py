"""A griffe extension for the API reference: the docstrings' Sphinx roles as markdown code.

The docstrings are written for ``help()`` and Sphinx-style readers (``:class:`WavPack```,
``:func:`~numcodecs_ephys.set_num_threads```); mkdocstrings renders markdown, where the
role's name would show as text. Each role becomes the code span of its target (the last
part of the target when it starts with ``~``, as Sphinx shows it). Loaded by mkdocs.yml.
"""

import re

import griffe

ROLE = re.compile(r":(?:py:)?(?:func|class|meth|data|attr|mod|obj|exc):`(~?)([^`]+)`")


def _code(match):
    tilde, target = match.groups()
    return f"`{target.rsplit('.', 1)[-1] if tilde else target}`"


class SphinxRoles(griffe.Extension):
    def on_instance(self, *, obj, **kwargs):
        if obj.docstring is not None:
            obj.docstring.value = ROLE.sub(_code, obj.docstring.value)
