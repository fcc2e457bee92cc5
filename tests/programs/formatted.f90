! Fortran: formatted output of integers, reals and strings, and arrays.
program formatted
  implicit none
  integer :: i
  real(8) :: x(5)
  character(len=12) :: label
  do i = 1, 5
    x(i) = sqrt(real(i, 8)) * 1.5d0
  end do
  label = 'roots'
  write (*, '(A, 1X, I3)') trim(label), size(x)
  write (*, '(5F10.4)') x
  write (*, '(ES12.4)') sum(x)
  write (*, '(I6, 2X, A)') (i * i, 'square', i = 1, 3)
  write (*, *) 'list-directed', 42, 2.5d0
end program formatted
