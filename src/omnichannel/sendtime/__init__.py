"""Best send time per person and channel, and channel peak hours (C9).

- ``evidence.py``: responses and activity counted by local hour of week, in the engine;
- ``model.py``: the Dirichlet-multinomial empirical-Bayes estimate, smoothed, in numpy;
- ``build.py``: the build that writes ``send_times``, ``send_time_hours``, ``send_time_peaks``;
- ``schedule.py``: a window cut into local hours, the best one chosen;
- ``reads.py``: the stored model for a list of people, one parameterised statement;
- ``service.py``: ``platform.send_times`` (``build``, ``next_best``, ``of``, ``peaks``).

See docs/sendtime.md.
"""
