"""The fixed sign vocabulary: 150 common English words, lowercase, 3-6 letters.

None of them is a colour, a shape, a digit, yes/no or left/right, so a reading answer
can never be mistaken for another question type's answer.
"""

from __future__ import annotations

WORDS = (
    "apple", "house", "water", "bread", "music", "river", "train", "table", "chair", "light",
    "night", "cloud", "horse", "mouse", "stone", "plant", "beach", "money", "paper", "clock",
    "phone", "dream", "field", "glass", "honey", "juice", "knife", "lemon", "metal", "ocean",
    "piano", "queen", "radio", "sugar", "tiger", "uncle", "voice", "wheel", "zebra", "angel",
    "baker", "camel", "dance", "earth", "fruit", "grape", "hotel", "image", "jelly", "kite",
    "lamp", "moon", "nest", "open", "park", "rain", "ship", "tree", "wind", "book",
    "cake", "door", "fish", "goat", "hand", "idea", "king", "lion", "milk", "nose",
    "road", "sand", "time", "wall", "bird", "coat", "desk", "farm", "game", "hill",
    "ice", "jar", "key", "leg", "map", "net", "owl", "pen", "rug", "sun",
    "toy", "van", "web", "box", "cup", "dog", "egg", "fan", "hat", "ink",
    "bus", "car", "cat", "bag", "bed", "cow", "fox", "pig", "bee", "ant",
    "garden", "window", "pocket", "rocket", "bottle", "candle", "doctor", "engine", "flower", "guitar",
    "hammer", "island", "jacket", "kitten", "ladder", "market", "number", "orchid", "pencil", "rabbit",
    "school", "ticket", "violin", "winter", "summer", "spring", "autumn", "forest", "planet", "saddle",
    "castle", "bridge", "street", "letter", "mirror", "dinner", "butter", "coffee", "shadow", "travel",
)

assert len(WORDS) == len(set(WORDS)) == 150, "the sign vocabulary must hold 150 distinct words"
