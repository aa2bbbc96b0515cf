"""The open demo benchmark (bin/make_demo_data): OpenMoji stickers + Chinese dialogs.

Modules: ``lexicon`` (emoji pool, phrase lexicon, small-talk banks),
``artwork`` (OpenMoji rendering and per-set styles), ``dialogs`` (context
generation and the cue oracle), ``generate`` (``DemoConfig`` and
``generate()``, the release-format writer), ``contact_sheet``.
See docs/DEMO_DATA.md.
"""
