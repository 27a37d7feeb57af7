"""Functional ops: plain tensor functions with parallel and step-by-step recurrent forms."""
