"""The legal-document stages built on the streamproc engine."""
