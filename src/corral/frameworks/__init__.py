"""What Corral's own frameworks (Marathon, Chronos) share: the v1 scheduler driver."""
