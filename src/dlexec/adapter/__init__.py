"""What only MkDocs needs, beside the hooks that wire its events to the engine: the converted
notebook page cache and mkdocs-jupyter's lazy converter."""
