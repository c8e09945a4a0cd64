"""The wire: messages as frozen dataclasses, their JSON codecs, and RecordIO framing. No I/O."""
