"""Stage 1, what authors write: snippets and their headers, posts (embeds, placeholders,
claims), the data files snippets declare. Parsed and checked at their lines; nothing runs."""
