"""netpilot controller: topology model, intents, path computation, compiler, southbound, engine."""
