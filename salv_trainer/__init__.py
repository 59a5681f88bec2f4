"""salv_trainer: the second stage of QiMeng-SALV (sample, label, pair, signal-aware DPO, SFT, eval).

Uses verislice's public Python API; verislice never imports salv_trainer.
"""

__version__ = "0.1.0"
