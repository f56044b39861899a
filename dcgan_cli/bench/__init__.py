"""`dcgan bench`: the train step's and the input pipelines' speed on this machine, and FLOP counts."""
