"""Your own knowledge: the notes and files you give psi, read, indexed and cited.

    readers     a file's bytes to titled, structured blocks (Markdown with front matter,
                tags and wiki links; text, PDF pages, HTML, DOCX, e-mail)
    chunking    blocks to passages that keep their heading and page (pure)
    index       the passages in the database: keyword and vector search, per user
    library     add, sync (by content hash), remove and search, with a report of
                what was skipped and why
    citing      the passages a reply may cite, as a numbered block and a list of sources

What a document says is data: it reaches a model spotlighted and judged by the
document-channel guard (psi.agent.chat), never as instructions.
"""
