"""Training: the loop and its two stages (`loop`), batches from photo folders (`data`) or
held on the device (`device_batches`)."""
