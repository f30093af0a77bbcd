"""The member directory and the reach report: the community in numbers, and in pictures.

Import the parts you need (``bot.report.compute``, ``.directory``, ``.render``, ``.chart``);
this package itself imports nothing heavy, so the bot's start-up does not pay for matplotlib.
"""
