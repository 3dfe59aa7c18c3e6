"""The officer's policy workbench: catalogue, editor, compare, impact and maker-checker review (pages.py),
with its pictures drawn on the server (drawing.py)."""
