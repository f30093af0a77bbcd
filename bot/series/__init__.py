"""The community's recurring series: the weekly opportunity digest and the mini-interviews, the
templates they are written from, and the schedule that publishes each slot exactly once."""
