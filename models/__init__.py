"""Traffic forecasting and fault prediction (pure, fast on 2 cores)."""
