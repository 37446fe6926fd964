"""The Gradio leaderboard, the submission queue and the evaluation worker."""
