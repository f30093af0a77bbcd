"""Scheduled community chats: announcements, questions on time, answers, and the recap."""
