"""mcv: MiniCPM-V on the desktop.

The package is a library first: `mcv.core` (images, backends, conversation),
`mcv.modelfile` (GGUF facts -> generation -> Modelfile), `mcv.packaging`
(weights and Ollama models) and a thin CLI in `mcv.cli`. Nothing heavy is
imported here so that `mcv --help` stays fast.
"""

__version__ = "0.1.0"
