"""Fixed English text the tiny BPE is trained on.

It is written here (not downloaded) so the merges, and with them every token id in
the golden files, are reproducible anywhere. The vicuna system prompt is included so
the prompt the tests use tokenizes into few, realistic multi-byte tokens.
"""

SYSTEM_PROMPT = (
    "A chat between a curious user and an artificial intelligence assistant. "
    "The assistant gives helpful, detailed, and polite answers to the user's questions."
)

_SENTENCES = [
    SYSTEM_PROMPT,
    "USER: What is in the image? ASSISTANT: The image shows a red circle and a blue square.",
    "USER: Describe the picture in detail. ASSISTANT: There is a green tree next to a small house.",
    "USER: How many people are there? ASSISTANT: There are three people standing on the street.",
    "USER: What color is the car? ASSISTANT: The car is yellow and it is parked near the building.",
    "USER: Read the text on the sign. ASSISTANT: The sign says open from nine to five.",
    "What is the man holding in his hand? He is holding a cup of coffee.",
    "Where is the cat sitting? The cat is sitting on the table by the window.",
    "Is there a dog in the photo? Yes, there is a brown dog lying on the grass.",
    "The sky is blue and the sun is shining over the water.",
    "A woman with a white hat is walking along the beach with her child.",
    "This is a photo of a kitchen with a stove, a sink and a wooden table.",
    "The document contains a table with numbers, dates and names.",
    "The chart shows that the value grows from one year to the next.",
    "There are two birds on the left and one bird on the right of the tree.",
    "The bottom of the page has small text that is hard to read.",
    "Please answer the question with a single word or phrase.",
    "The train is moving fast through the green fields and the small town.",
    "On the wall there is a large clock, a map of the world and a painting.",
    "The answer is yes. The answer is no. The answer is two.",
    "Look at the top right corner of the image and tell me what you see.",
    "In the middle of the room there is a bed with a red blanket.",
    "The boy is playing with a ball while the girl is reading a book.",
    "The number on the door is 42 and the street name is written above it.",
    "It was a sunny day, and the children were playing in the park.",
    "The shapes in the image are a triangle, a circle, a square and a line.",
    "Colors: red, green, blue, yellow, orange, purple, black, white and gray.",
    "Thank you for the question. I am happy to help with the image.",
]

# Common words repeated so that they become whole tokens.
_COMMON_WORDS = (
    "the a an and of to in is it that with for on as at by this are there what "
    "which where when who how image picture photo question answer assistant user"
)

CORPUS = "\n".join(_SENTENCES + [_COMMON_WORDS] * 3)
