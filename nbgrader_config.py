"""nbgrader configuration of the course: solutions/ are the sources, notebooks/ the student release."""
c = get_config()  # noqa: F821 (injected by nbgrader)

c.CourseDirectory.course_id = "gancourse"
c.CourseDirectory.source_directory = "solutions"
c.CourseDirectory.release_directory = "notebooks"

# Under nbgrader every notebook trains on its fast budget (seconds); this limit only stops runaway cells.
c.Execute.timeout = 180
c.Execute.interrupt_on_timeout = True

# Feedback must not reveal hidden tests (jupyter/nbgrader#917): drop their source and their tracebacks,
# keeping the failing check's message.
c.GenerateFeedback.preprocessors = [
    "nbgrader.preprocessors.GetGrades",
    "nbgrader.preprocessors.ClearHiddenTests",
    "gancourse.feedback.ShortenTestTracebacks",
    "nbconvert.preprocessors.CSSHTMLHeaderPreprocessor",
]

# No exchange is used (students get notebooks/ from the repository); a local root silences a warning.
c.Exchange.root = ".nbgrader_exchange"
