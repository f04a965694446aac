"""The language model's fine-tune: training data (generate.py, runtime venv) and LoRA training (train.py, build venv).

`slm-voice models tune` runs both; the adapter it writes to adapters/<model>/ is committed, and `models build`
merges it into the model before the INT4 conversion.
"""
