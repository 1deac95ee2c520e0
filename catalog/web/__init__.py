"""Server-rendered pages (a landing page for now; the officers' interface is its own issue)."""
